"""`costory-control-plane`: serve, serve MCP over stdio, migrate, manage tenants (create, list, rotate or revoke
their API token, set their Google key) and import datasources now.

Every command runs with secrets redacted from its logs (``control_plane.logs``). The ``tenants`` and
``migrate`` commands say which database they used, and wait at most ``database_lock_timeout_seconds`` for a
lock another process holds, instead of hanging behind a running server's write transaction.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from control_plane.db import create_engine, create_sessionmaker, migrate
from control_plane.errors import DomainError
from control_plane.identity import set_google_key
from control_plane.logs import redact, redacting
from control_plane.settings import Settings
from control_plane.tenants.service import create_tenant, list_tenants, revoke_token, rotate_token


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
    serve.add_argument(
        "--rest-processes",
        type=int,
        help="processes answering the REST API, up to the machine's cores (default: $COSTORY_REST_PROCESSES, else 1)",
    )
    commands.add_parser("migrate", parents=[database], help="upgrade the database schema")
    commands.add_parser(
        "mcp",
        parents=[database],
        help="serve the MCP tools over stdio as the tenant of the API token in $COSTORY_TOKEN (for Claude Desktop and "
        "other MCP clients)",
    )

    tenants = commands.add_parser("tenants", help="manage tenants").add_subparsers(
        dest="tenants_command", required=True
    )
    create = tenants.add_parser("create", parents=[database], help="create a tenant and print its API token")
    create.add_argument("name")
    tenants.add_parser(
        "list", parents=[database], help="list tenants: name, id, creation time, Google identity, token state"
    )
    rotate = tenants.add_parser(
        "rotate-token",
        parents=[database],
        help="print a new API token for a tenant; the old one stops working (a revoked tenant works again)",
    )
    rotate.add_argument("name")
    revoke = tenants.add_parser(
        "revoke", parents=[database], help="revoke a tenant's API token: every call with it is refused"
    )
    revoke.add_argument("name")
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
    secrets_commands = commands.add_parser(
        "secrets", help="the key that encrypts datasource credentials"
    ).add_subparsers(dest="secrets_command", required=True)
    secrets_commands.add_parser("new-key", help="print a new key for COSTORY_SECRET_KEY")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with redacting():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    if args.command == "secrets":  # no settings, no database: a key is 32 random bytes
        from control_plane.secrets import new_key

        print(new_key())
        return 0
    overrides = {
        "database_url": args.database_url,
        "grpc_address": getattr(args, "grpc_address", None),
        "http_address": getattr(args, "http_address", None),
        "rest_processes": getattr(args, "rest_processes", None),
    }
    try:
        settings = Settings(**{key: value for key, value in overrides.items() if value is not None})
        logging.basicConfig(
            level=settings.log_level or ("INFO" if args.command == "serve" else "WARNING"),
            stream=sys.stderr,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        if not settings.log_level:
            # The Azure SDK logs every request and response at INFO; the control plane's own lines say what happened.
            logging.getLogger("azure").setLevel(logging.WARNING)
        if args.command == "serve":
            from control_plane.server import serve

            serve(settings)
        elif args.command == "mcp":
            _serve_mcp(settings)
        elif args.command == "migrate":
            with _database(settings, may_create=True, migrating=False) as url:
                migrate(url)
        elif args.command == "datasources":
            return _reimport(settings, args.id)
        elif args.command == "billing":
            return _billing_reimport(settings, args.id)
        else:
            _TENANT_COMMANDS[args.tenants_command](settings, args)
    except DomainError as error:
        print(f"error: {redact(str(error))}", file=sys.stderr)
        return 1
    except ValidationError as error:  # a setting: name it the way the operator set it
        problems = (
            f"{'.'.join(map(str, e['loc']))} (env COSTORY_{str(e['loc'][0]).upper()}): {e['msg']}"
            for e in error.errors()
        )
        print(f"error: {redact('; '.join(problems))}", file=sys.stderr)
        return 1
    except Exception as error:  # one line for the operator, never a traceback
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"error: {redact(first_line)}", file=sys.stderr)
        return 1
    return 0


def describe_database(url: str) -> str:
    """The database as an operator should read it: a SQLite file by its absolute path, any password masked."""
    path = _sqlite_file(url)
    if path is not None:
        return f"sqlite:///{path.resolve()}"
    return redact(make_url(url).render_as_string(hide_password=False))


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _bounded_url(settings: Settings) -> str:
    """``settings.database_url`` with its lock waits bounded: SQLite's busy timeout, PostgreSQL's
    ``lock_timeout`` (and a connect timeout). Values already in the URL win."""
    url = make_url(settings.database_url)
    seconds = settings.database_lock_timeout_seconds
    if url.get_backend_name() == "sqlite":
        if "timeout" not in url.query:
            url = url.update_query_dict({"timeout": f"{seconds:g}"})
    elif url.get_backend_name() == "postgresql":
        options = url.query.get("options", "")
        if isinstance(options, str) and "lock_timeout" not in options:
            url = url.update_query_dict({"options": f"{options} -c lock_timeout={int(seconds * 1000)}".strip()})
        if "connect_timeout" not in url.query:
            url = url.update_query_dict({"connect_timeout": str(max(1, int(seconds)))})
    return url.render_as_string(hide_password=False)


@contextmanager
def _database(settings: Settings, *, may_create: bool, migrating: bool = True) -> Iterator[str]:
    """The database URL to use (lock waits bounded), migrated to the latest schema unless ``migrating`` is
    False. A SQLite file that does not exist is created only when ``may_create``: otherwise a mistyped or
    missing ``--database-url`` would silently make an empty database. Database failures become one line
    that names the database."""
    where = describe_database(settings.database_url)
    path = _sqlite_file(settings.database_url)
    if path is not None and not may_create and not path.exists():
        raise DomainError(
            f"{where} does not exist; pass the database your control plane serves with --database-url "
            "(or set COSTORY_DATABASE_URL)"
        )
    url = _bounded_url(settings)
    try:
        if migrating:
            migrate(url)
        yield url
    except sa.exc.DBAPIError as error:
        raise DomainError(_database_failure(error, where, settings)) from None


def _database_failure(error: sa.exc.DBAPIError, where: str, settings: Settings) -> str:
    if "database is locked" in str(error.orig) or getattr(error.orig, "sqlstate", None) == "55P03":
        return (
            f"the database {where} stayed locked for {settings.database_lock_timeout_seconds:g} s: another process "
            "(a running `serve`, an import or a migration) holds a write lock; retry when it is done, or wait "
            "longer with COSTORY_DATABASE_LOCK_TIMEOUT_SECONDS"
        )
    first_line = (str(error.orig).splitlines() or [type(error.orig).__name__])[0]
    return f"the database {where} failed: {first_line}"


@contextmanager
def _tenant_session(settings: Settings, *, may_create: bool = False) -> Iterator[Session]:
    """A transaction on the migrated database, committed when the block ends."""
    with _database(settings, may_create=may_create) as url:
        engine = create_engine(url)
        try:
            with create_sessionmaker(engine).begin() as session:
                yield session
        finally:
            engine.dispose()


def _create_tenant(settings: Settings, args: argparse.Namespace) -> None:
    path = _sqlite_file(settings.database_url)
    new_file = path is not None and not path.exists()
    with _tenant_session(settings, may_create=True) as session:
        tenant, token = create_tenant(session, args.name, settings)
        tenant_id = tenant.id
    where = describe_database(settings.database_url)
    print(token)
    print(
        f"created tenant {args.name!r} ({tenant_id}) in {where}; the token above is shown only once",
        file=sys.stderr,
    )
    if new_file:
        print(
            f"note: {where} did not exist and was created now; a control plane serving another database "
            "rejects this token: pass the database it serves with --database-url (or set COSTORY_DATABASE_URL)",
            file=sys.stderr,
        )


def _list_tenants(settings: Settings, args: argparse.Namespace) -> None:
    with _tenant_session(settings) as session:
        tenants = list_tenants(session)
    if not tenants:
        print(f"no tenants in {describe_database(settings.database_url)}", file=sys.stderr)
        return
    rows = [("NAME", "ID", "CREATED", "SERVICE ACCOUNT", "SUB", "KEY", "TOKEN")]
    for tenant in tenants:
        token_state = f"revoked {tenant.revoked_at:%Y-%m-%dT%H:%M:%SZ}" if tenant.revoked_at else "valid"
        rows.append(
            (
                tenant.name,
                tenant.id,
                f"{tenant.created_at:%Y-%m-%dT%H:%M:%SZ}",
                tenant.service_account_email,
                tenant.google_subject_id,
                tenant.identity_source or "-",
                token_state,
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _rotate_token(settings: Settings, args: argparse.Namespace) -> None:
    with _tenant_session(settings) as session:
        tenant, token = rotate_token(session, args.name)
        tenant_id = tenant.id
    print(token)
    print(
        f"new API token for tenant {args.name!r} ({tenant_id}) in {describe_database(settings.database_url)}; "
        "the previous token no longer works; the token above is shown only once",
        file=sys.stderr,
    )


def _revoke_token(settings: Settings, args: argparse.Namespace) -> None:
    with _tenant_session(settings) as session:
        tenant = revoke_token(session, args.name)
        tenant_id = tenant.id
    print(
        f"revoked the API token of tenant {args.name!r} ({tenant_id}) in {describe_database(settings.database_url)}: "
        f"every call with it is refused; `costory-control-plane tenants rotate-token {args.name}` issues a new one",
        file=sys.stderr,
    )


def _set_google_key(settings: Settings, args: argparse.Namespace) -> None:
    key_file: Path = args.key_file
    try:
        key_json = key_file.read_text()
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else type(error).__name__
        raise DomainError(f"cannot read key file {key_file}: {reason}") from None
    with _tenant_session(settings) as session:
        tenant = set_google_key(session, args.name, key_json)
        email, subject_id = tenant.service_account_email, tenant.google_subject_id
    print(f"tenant {args.name!r} now uses Google service account {email} (sub {subject_id})", file=sys.stderr)


def _serve_mcp(settings: Settings) -> None:
    """MCP over stdin/stdout until the client closes it. The token is checked first, so a wrong or revoked one
    fails at once with one line on stderr instead of on the first tool call; stdout carries only the protocol."""
    import anyio

    from control_plane.mcp.server import build_server
    from control_plane.services import build_services
    from control_plane.tenants.service import authenticate

    token = settings.token.get_secret_value() if settings.token else ""
    if not token:
        raise DomainError(
            "set COSTORY_TOKEN to the tenant's API token (`costory-control-plane tenants create` prints it); "
            "the token is never taken on the command line"
        )
    with _database(settings, may_create=False) as url:
        services = build_services(settings.model_copy(update={"database_url": url}))
    try:
        with services.sessions() as session:
            authenticate(session, token)
        anyio.run(build_server(services, token=token).run_stdio_async)
    finally:
        services.close()


_TENANT_COMMANDS = {
    "create": _create_tenant,
    "list": _list_tenants,
    "rotate-token": _rotate_token,
    "revoke": _revoke_token,
    "set-google-key": _set_google_key,
}


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
    replaced, unchanged = ", ".join(summary.changed_months) or "none", ", ".join(summary.months_unchanged) or "none"
    print(f"{summary.status}: {summary.files_seen} files, months replaced: {replaced}, unchanged: {unchanged}")
    if summary.status != "SUCCEEDED":
        print(f"error: {summary.message}", file=sys.stderr)
    return 0 if summary.status == "SUCCEEDED" else 1
