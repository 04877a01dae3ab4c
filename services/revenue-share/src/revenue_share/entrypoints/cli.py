"""`ipshare-revenue-share`: run the service, apply its schema's migrations, or replay it from the
topics and check what it issued."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from ipshare.database import database_name, with_database
from ipshare.service_cli import service_cli
from revenue_share.entrypoints.main import RevenueShareSettings
from revenue_share.entrypoints.main import main as serve_main
from revenue_share.migrations import schema
from revenue_share.rebuild import ReplayReport, rebuild

app = service_cli("revenue-share: exact, replayable payouts.", schema, RevenueShareSettings, serve_main)
console = Console(stderr=True)


@app.command()
def replay(
    into: Annotated[
        str | None, typer.Option(help="database to rebuild into (dropped first); default: <live database>_replay")
    ] = None,
) -> None:
    """Rebuild revenue-share from the beginning of the topics into a fresh database, recompute every
    issued statement and compare hashes. Exit status 1 when any period differs."""
    settings = RevenueShareSettings()
    live = database_name(settings.database_url)
    target = into or f"{live}_replay"
    if target == live:
        raise typer.BadParameter("the replay rebuilds into a fresh database, never the live one")
    with Progress(TextColumn("{task.description:22}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as bar:  # fmt: skip
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        report = asyncio.run(rebuild(settings, with_database(settings.database_url, target), progress))
    console.print(report_table(report))
    if not report.identical:
        raise typer.Exit(1)


def report_table(report: ReplayReport) -> Table:
    target = database_name(report.database_url)
    table = Table(title=f"replay: {report.messages:,} messages, {report.facts:,} facts, into database {target}")
    for column in ("period", "issued hash", "replayed hash", "result"):
        table.add_column(column)
    for check in report.checks:
        verdict = "[green]identical[/]" if check.identical else "[red]differs[/]: " + "; ".join(check.differences)
        table.add_row(check.period_id, check.issued_hash[:16], check.replayed_hash[:16], verdict)
    return table


if __name__ == "__main__":
    app()
