"""`ipshare verify` and `ipshare export`: the auditor's commands.

`verify` fetches every service's history, checkpoints and served proofs (gRPC and HTTP, as an
auditor) and a copy of each topic, or reads them from an export directory, then checks chains,
signatures, proofs and topics, and replays the revenue-share computation against the issued
statements. It exits with status 1 when anything differs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from ipshare.audit import load_public_key
from ipshare.audit_check import AuditReport, check_all
from ipshare.audit_history import LiveFetcher, ServiceAddress, ServiceHistory, exported_services
from ipshare.audit_history import Progress as ProgressCallback
from ipshare.auth import AuthError, Role
from ipshare.identity import IssuerUnavailable, ServiceToken, development_person_token, read_token
from ipshare.settings import ServiceSettings
from ipshare_devtools.stack import StackSettings
from revenue_share.audit import check_statements

console = Console(stderr=True)
out = Console()

ServicesOption = Annotated[list[str] | None, typer.Option("--service", help="only these services (repeatable)")]
TokenOption = Annotated[
    str | None,
    typer.Option(
        envvar="IPSHARE_TOKEN", help="an auditor's bearer token; default: the local stack's development issuer's"
    ),
]
ClientIdOption = Annotated[
    str | None,
    typer.Option(
        envvar="IPSHARE_CLIENT_ID",
        help="the auditor's client at the identity provider (OIDC_ISSUER): the token comes by client credentials",
    ),
]
ClientSecretOption = Annotated[
    str | None, typer.Option(envvar="IPSHARE_CLIENT_SECRET", help="that client's secret", show_default=False)
]
TopicsOption = Annotated[bool, typer.Option("--topics/--no-topics", help="also read and compare the Kafka topics")]


def addresses(settings: ServiceSettings) -> list[ServiceAddress]:
    return [
        ServiceAddress("ip-registry", settings.ip_registry_grpc_address, settings.ip_registry_url),
        ServiceAddress("commercialization", settings.commercialization_grpc_address, settings.commercialization_url),
        ServiceAddress("incubation", settings.incubation_grpc_address, settings.incubation_url),
        ServiceAddress("revenue-share", settings.revenue_share_grpc_address, settings.revenue_share_url),
    ]


def verify(
    export_dir: Annotated[
        Path | None, typer.Option("--from", help="an export directory: verify offline, without the services")
    ] = None,
    service: ServicesOption = None,
    key: Annotated[
        list[str] | None,
        typer.Option(help="SERVICE=KEY: the trusted public key (base64 or a PEM file) of a service's checkpoints"),
    ] = None,
    token: TokenOption = None,
    client_id: ClientIdOption = None,
    client_secret: ClientSecretOption = None,
    topics: TopicsOption = True,
) -> None:
    """Verify the services' histories (live, or an export with --from) and re-derive every issued statement."""
    trusted = _trusted_keys(key or [])
    with _progress() as progress:
        if export_dir is not None:
            histories = _load(export_dir, service, progress)
        else:
            histories = _fetch(service, Credentials(token, client_id, client_secret), topics, progress)
        report = check_all(histories, trusted, check_statements if _wants(service, "revenue-share") else None)
    _print(report, source=str(export_dir) if export_dir else "the live services")
    if not report.ok:
        raise typer.Exit(1)


def export(
    directory: Annotated[Path, typer.Argument(help="where to write (one folder per service)")],
    service: ServicesOption = None,
    token: TokenOption = None,
    client_id: ClientIdOption = None,
    client_secret: ClientSecretOption = None,
    topics: TopicsOption = True,
) -> None:
    """Write each service's full history, checkpoints, served proofs and topic as files, for `verify --from`."""
    with _progress() as progress:
        histories = _fetch(service, Credentials(token, client_id, client_secret), topics, progress)
    for history in histories:
        folder = history.export(directory)
        out.print(
            f"{history.service}: {len(history.entries)} events, {len(history.checkpoints)} checkpoints -> {folder}"
        )


def _wants(services: Sequence[str] | None, name: str) -> bool:
    return not services or name in services


@dataclass(frozen=True)
class Credentials:
    """How the auditor is known to the services: a bearer token as it is, or a client of the identity
    provider to get one from; neither, for local use, the development issuer's auditor."""

    token: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)

    def bearer(self, settings: ServiceSettings) -> str:
        if self.token:
            return self.token
        if self.client_id:
            return _client_token(settings, self.client_id, self.client_secret or "")
        return _local_auditor_token(settings)


def _client_token(settings: ServiceSettings, client_id: str, client_secret: str) -> str:
    """A token from the configured issuer's token endpoint by client credentials; refused here unless the
    client's service account acts as an auditor (or admin), as the audit routes would refuse it."""
    if not settings.uses_issuer:
        raise typer.BadParameter("--client-id needs OIDC_ISSUER, the identity provider to ask for a token")
    as_client = settings.model_copy(update={"oidc_client_id": client_id, "oidc_client_secret": client_secret})
    try:
        token = ServiceToken(as_client, client_id).bearer()
        role = read_token(settings, token).role
    except (AuthError, IssuerUnavailable) as error:
        raise typer.BadParameter(f"no token for client {client_id}: {error}") from error
    if role not in {Role.AUDITOR, Role.ADMIN}:
        raise typer.BadParameter(
            f"client {client_id}'s token has the role {role.value}: give its service account the auditor role"
        )
    return token


def _fetch(
    services: Sequence[str] | None, credentials: Credentials, topics: bool, progress: ProgressCallback
) -> list[ServiceHistory]:
    settings = ServiceSettings()
    token = credentials.bearer(settings)
    fetcher = LiveFetcher(token, settings if topics else None, progress)
    chosen = [a for a in addresses(settings) if _wants(services, a.service)]
    _unknown(services, [a.service for a in addresses(settings)])

    async def fetch_all() -> list[ServiceHistory]:
        return [await fetcher.fetch(address) for address in chosen]

    try:
        return asyncio.run(fetch_all())
    except Exception as error:  # gRPC, HTTP or broker unreachable: say which, not a traceback
        console.print(f"[red]could not fetch the histories:[/] {error}")
        raise typer.Exit(2) from error


def _local_auditor_token(settings: ServiceSettings) -> str:
    """Development: the configured (development) issuer's auditor token, or without one configured, one
    signed with the local stack's issuer key."""
    if settings.uses_issuer:
        return development_person_token(settings, Role.AUDITOR, name="ipshare verify")
    return StackSettings().dev_issuer().person_token(Role.AUDITOR, name="ipshare verify")


def _load(directory: Path, services: Sequence[str] | None, progress: ProgressCallback) -> list[ServiceHistory]:
    found = exported_services(directory)
    if not found:
        raise typer.BadParameter(f"{directory} holds no export (no <service>/log.json)")
    _unknown(services, found)
    chosen = [name for name in found if _wants(services, name)]
    histories = []
    for done, name in enumerate(chosen, start=1):
        histories.append(ServiceHistory.load(directory / name))
        progress("reading the export", done, len(chosen))
    return histories


def _unknown(services: Sequence[str] | None, known: Sequence[str]) -> None:
    unknown = sorted(set(services or ()) - set(known))
    if unknown:
        raise typer.BadParameter(f"unknown service(s): {', '.join(unknown)} (known: {', '.join(known)})")


def _trusted_keys(pairs: Sequence[str]) -> dict[str, Ed25519PublicKey]:
    keys = {}
    for pair in pairs:
        name, _, text = pair.partition("=")
        if not text:
            raise typer.BadParameter(f"--key {pair!r}: expected SERVICE=KEY")
        path = Path(text)
        keys[name] = load_public_key(path.read_text() if path.is_file() else text)
    return keys


@contextmanager
def _progress() -> Iterator[ProgressCallback]:
    with Progress(TextColumn("{task.description:28}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:  # fmt: skip
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield progress


def _print(report: AuditReport, source: str) -> None:
    out.print(f"verifying {source}")
    for line in report.verified:
        out.print(f"[green]verified[/]  {line}", highlight=False)
    for problem in report.problems:
        out.print(f"[red]DIFFERS[/]   {problem.service} {problem.kind}: {problem.message}", highlight=False)
    if report.ok:
        out.print("[green]everything verified[/]")
    else:
        count = len(report.problems)
        out.print(f"[red]{count} problem{'s' if count > 1 else ''} found[/]")
