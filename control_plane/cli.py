"""`costory-control-plane`: serve, migrate, create tenants."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from control_plane.db import create_engine, create_sessionmaker, migrate
from control_plane.errors import DomainError
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.command == "tenants" else logging.INFO,
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
            tenant, token = create_tenant(session, name)
            tenant_id = tenant.id
    finally:
        engine.dispose()
    print(token)
    print(f"created tenant {name!r} ({tenant_id}); the token above is shown only once", file=sys.stderr)
