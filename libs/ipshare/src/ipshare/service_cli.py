"""`ipshare-<service>`: what every service's command offers an operator: `serve` and `migrate`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated

import typer

from ipshare.schema import Schema, migrate, missing_heads
from ipshare.settings import ServiceSettings


def service_cli(
    help: str, schema: Schema, settings: Callable[[], ServiceSettings], serve: Callable[[], None]
) -> typer.Typer:
    """A command line with the service's `serve` and `migrate`; a service may add its own commands."""
    app = typer.Typer(help=help, no_args_is_help=True)

    @app.command("serve")
    def serve_command() -> None:
        """Run the service (HTTP, gRPC, relay, consumers and workers)."""
        serve()

    @app.command("migrate")
    def migrate_command(
        check: Annotated[bool, typer.Option(help="only tell whether migrations are missing (exit status 1)")] = False,
    ) -> None:
        """Bring the service's database (DATABASE_URL) to its latest migrations; safe beside running replicas."""
        database_url = settings().database_url
        if check:
            missing = asyncio.run(missing_heads(database_url, schema))
            typer.echo(f"missing: {', '.join(sorted(missing))}" if missing else "up to date")
            raise typer.Exit(1 if missing else 0)
        applied = asyncio.run(migrate(database_url, schema))
        typer.echo(f"applied: {', '.join(applied)}" if applied else "up to date")

    return app
