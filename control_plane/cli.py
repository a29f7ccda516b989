"""`costory-control-plane`: serve, migrate, create tenants and set their Google keys."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from control_plane.db import create_engine, create_sessionmaker, migrate
from control_plane.errors import DomainError
from control_plane.identity import set_google_key
from control_plane.settings import Settings
from control_plane.tenants.service import create_tenant


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="costory-control-plane", description=__doc__)
    database = argparse.ArgumentParser(add_help=False)
    database.add_argument(
        "--database-url", help="SQLAlchemy URL (default: $COSTORY_DATABASE_URL, else sqlite:///costory.db)"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", parents=[database], help="run the gRPC server")
    serve.add_argument(
        "--grpc-address", help="host:port to listen on (default: $COSTORY_GRPC_ADDRESS, else 127.0.0.1:50051)"
    )
    serve.add_argument(
        "--http-address", help="host:port of the REST API (default: $COSTORY_HTTP_ADDRESS, else 127.0.0.1:8080)"
    )
    commands.add_parser("migrate", parents=[database], help="upgrade the database schema")

    tenants = commands.add_parser("tenants", help="manage tenants").add_subparsers(
        dest="tenants_command", required=True
    )
    create = tenants.add_parser("create", parents=[database], help="create a tenant and print its API token")
    create.add_argument("name")
    set_key = tenants.add_parser(
        "set-google-key",
        parents=[database],
        help="give a tenant a real Google service-account key (its sub and email change to the key's)",
    )
    set_key.add_argument("name")
    set_key.add_argument("--key-file", required=True, type=Path, help="the service account's JSON key file")

    datasources = commands.add_parser("datasources", help="operate on metrics datasources").add_subparsers(
        dest="datasources_command", required=True
    )
    reimport = datasources.add_parser(
        "reimport", parents=[database], help="import a datasource's new and changed files now"
    )
    reimport.add_argument("id", help="the datasource id (mds_...)")

    billing = commands.add_parser("billing", help="operate on billing datasources").add_subparsers(
        dest="billing_command", required=True
    )
    billing_reimport = billing.add_parser(
        "reimport", parents=[database], help="import a billing datasource now: changed months are replaced"
    )
    billing_reimport.add_argument("id", help="the billing datasource id (bds_...)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.command in ("tenants", "datasources", "billing") else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    overrides = {
        "database_url": args.database_url,
        "grpc_address": getattr(args, "grpc_address", None),
        "http_address": getattr(args, "http_address", None),
    }
    try:
        settings = Settings(**{key: value for key, value in overrides.items() if value is not None})
        if args.command == "serve":
            from control_plane.server import serve

            serve(settings)
        elif args.command == "migrate":
            migrate(settings.database_url)
        elif args.command == "datasources":
            return _reimport(settings, args.id)
        elif args.command == "billing":
            return _billing_reimport(settings, args.id)
        elif args.tenants_command == "set-google-key":
            _set_google_key(settings, args.name, args.key_file)
        else:
            _create_tenant(settings, args.name)
    except DomainError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # noqa: BLE001 - one line for the operator, no traceback
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"error: {first_line}", file=sys.stderr)
        return 1
    return 0


def _create_tenant(settings: Settings, name: str) -> None:
    migrate(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        with create_sessionmaker(engine).begin() as session:
            tenant, token = create_tenant(session, name, settings)
            tenant_id = tenant.id
    finally:
        engine.dispose()
    print(token)
    print(f"created tenant {name!r} ({tenant_id}); the token above is shown only once", file=sys.stderr)


def _set_google_key(settings: Settings, name: str, key_file: Path) -> None:
    try:
        key_json = key_file.read_text()
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else type(error).__name__
        raise DomainError(f"cannot read key file {key_file}: {reason}") from None
    migrate(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        with create_sessionmaker(engine).begin() as session:
            tenant = set_google_key(session, name, key_json)
            email, subject_id = tenant.service_account_email, tenant.google_subject_id
    finally:
        engine.dispose()
    print(f"tenant {name!r} now uses Google service account {email} (sub {subject_id})", file=sys.stderr)


def _reimport(settings: Settings, datasource_id: str) -> int:
    """Run an on-demand import; prints its outcome, exits 1 when it failed."""
    from control_plane.metrics.imports import run_import
    from control_plane.services import build_services

    services = build_services(settings)
    try:
        result = run_import(services, datasource_id, trigger="MANUAL")
    finally:
        services.close()
    print(
        f"{result.status}: {result.files_imported} imported, {result.files_unchanged} unchanged, "
        f"{result.files_quarantined} quarantined of {result.files_seen} files"
    )
    if result.error:
        print(f"error: {result.error}", file=sys.stderr)
    return 0 if result.status == "SUCCEEDED" else 1


def _billing_reimport(settings: Settings, datasource_id: str) -> int:
    """Import a billing datasource now; prints the months replaced, exits 1 unless it fully succeeded."""
    from control_plane.billing.service import run_import
    from control_plane.errors import NotFound
    from control_plane.models import BillingDatasource
    from control_plane.services import build_services

    services = build_services(settings)
    try:
        with services.sessions.begin() as session:
            datasource = session.get(BillingDatasource, datasource_id)
            if datasource is None:
                raise NotFound(f"billing datasource {datasource_id!r} not found")
            summary = run_import(services, session, datasource)
    finally:
        services.close()
    print(
        f"{summary.status}: {summary.files_seen} files, months replaced: {', '.join(summary.changed_months) or 'none'}, "
        f"unchanged: {', '.join(summary.months_unchanged) or 'none'}"
    )
    if summary.status != "SUCCEEDED":
        print(f"error: {summary.message}", file=sys.stderr)
    return 0 if summary.status == "SUCCEEDED" else 1
