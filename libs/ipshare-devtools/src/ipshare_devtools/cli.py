"""`ipshare`: tokens for local use, the whole stack on this machine (up, down, demo), and the auditor's
verify and export."""

from __future__ import annotations

import contextlib
import sys
import uuid
from typing import Annotated

import typer
from rich.console import Console

from ipshare.auth import Role
from ipshare_devtools.audit_commands import export, verify
from ipshare_devtools.embedded import StartError
from ipshare_devtools.stack import Stack, StackSettings, stop_detached

app = typer.Typer(help="ipshare: tech-transfer services of a manufacturing innovation center.", no_args_is_help=True)
console = Console(stderr=True)
app.command()(verify)
app.command()(export)


@app.command()
def token(
    role: Annotated[Role, typer.Option(help="member, finance, auditor, incubator or admin")],
    member: Annotated[str | None, typer.Option(help="the member id (required for --role member)")] = None,
    name: Annotated[str | None, typer.Option(help="the display name the token gives")] = None,
) -> None:
    """Print a person's bearer token from the local stack's development issuer (its key in STATE_DIR)."""
    member_id = uuid.UUID(member) if member else None
    if role is Role.SERVICE:
        raise typer.BadParameter("services obtain their own tokens from the issuer; choose a person's role")
    if role is Role.MEMBER and member_id is None:
        raise typer.BadParameter("--member is required with --role member")
    typer.echo(StackSettings().dev_issuer().person_token(role, member_id, name))


@app.command()
def up() -> None:
    """Start PostgreSQL, the broker and the four services, and leave them running."""
    settings = StackSettings()
    try:
        Stack(settings, detached=True).start()
    except StartError as exc:
        console.print(f"[red]could not start:[/] {exc}")
        raise typer.Exit(1) from exc
    for service in settings.services():
        console.print(
            f"{service.name:18} {service.base_url}  (docs {service.base_url}/docs, gRPC :{service.grpc_port})"
        )
    console.print(f"{'console':18} {settings.console_url}  (sign in at the issuer: pick a role, a member's id)")
    console.print(f"{'issuer':18} {settings.issuer_url}  (development identity provider; `ipshare token` signs as it)")
    console.print("stop with `make down` (or `ipshare down`)")


@app.command()
def down() -> None:
    """Stop a stack started with `ipshare up`."""
    if not stop_detached(StackSettings()):
        console.print("no running stack found")


@app.command()
def demo() -> None:
    """Start everything, drive one revenue flow through the public APIs, print the payouts, stop."""
    from ipshare_devtools.demo import run_demo

    # Its own databases, dropped first: the demo starts from nothing and leaves `up`'s data alone.
    settings = StackSettings(database_prefix="ipshare_demo")
    stack = Stack(settings)
    with console.status("starting PostgreSQL, the broker and four services..."):
        stack.start(fresh=True)
    try:
        ok = run_demo(settings, Console())
        _offer_console(settings)
    finally:
        with console.status("stopping..."):
            stack.stop()
    raise typer.Exit(0 if ok else 1)


def _offer_console(settings: StackSettings) -> None:
    """The demo ends with the console's address; at a terminal the stack waits for Enter, so the
    demo's data can be looked at there first."""
    out = Console()
    if sys.stdin.isatty():
        out.print(f"console: {settings.console_url}  (sign in as finance, or as a member with an id above)")
        with contextlib.suppress(EOFError, KeyboardInterrupt):
            input("press Enter to stop the stack ")
    else:
        out.print(f"console: {settings.console_url}  (the demo stops now; `make up` keeps a stack running)")
