from __future__ import annotations

import threading
import uuid

import pytest
from eventsourcing.domain import Aggregate, event

from ipshare.auth import Principal, Role
from ipshare.eventstore import CommandContext, ServiceApplication, persistence_env


class Widget(Aggregate):
    @event("Made")
    def __init__(self, name: str) -> None:
        self.name = name

    @event("Inspected")
    def inspect(self) -> None:
        pass


class Workshop(ServiceApplication):
    source = "workshop"

    def make(self, ctx: CommandContext, name: str) -> uuid.UUID:
        widget = Widget(name)
        self.record(ctx, widget)
        return widget.id

    def inspect(self, ctx: CommandContext, name: str) -> None:
        widget = next(w for w in map(self.repository.get, self.created_ids(Widget.Made)) if w.name == name)
        widget.inspect()
        self.record(ctx, widget)


def test_metadata_is_stored_beside_the_event_and_kept_out_of_the_domain(event_store_env: dict[str, str]) -> None:
    app = Workshop(env=event_store_env)
    try:
        ctx = CommandContext(Principal(Role.ADMIN, "alice"), correlation_id="corr-1", causation_id="cause-1")
        widget_id = app.make(ctx, "gear")
        assert app.repository.get(widget_id).name == "gear"
        [notification] = app.notifications_after(0, 10)
        domain_event, meta = app.metadata_mapper.decode(notification)
        assert meta == {"principal": "admin:alice", "correlation_id": "corr-1", "causation_id": "cause-1"}
        assert "_meta" not in vars(domain_event)
    finally:
        app.close()


def test_the_log_counts_its_events_up_to_a_position(event_store_env: dict[str, str]) -> None:
    app = Workshop(env=event_store_env)
    try:
        for name in ("gear", "cog", "axle"):
            app.make(CommandContext(), name)
        app.inspect(CommandContext(), "gear")
        counts = [app.count_notifications_through(p, [Widget.Made]) for p in (0, 1, 2, 3, 10)]
        assert counts == [0, 1, 2, 3, 3]
        assert app.count_notifications_through(10, [Widget.Inspected]) == 1
    finally:
        app.close()


@pytest.mark.integration
def test_a_transaction_larger_than_a_socket_buffer_is_written(fresh_database: str) -> None:
    """Over a Unix socket a pipelined write of this size never returns (see ipshare.pg_recorder)."""
    app = Workshop(env=persistence_env(fresh_database))
    widgets = [Widget("x" * 1_000) for _ in range(2_000)]
    saving = threading.Thread(target=app.record, args=(CommandContext(), *widgets), daemon=True)
    try:
        saving.start()
        saving.join(timeout=60)
        assert not saving.is_alive(), "saving 2 MB of events in one transaction did not finish"
        assert len(app.notifications_after(0, 5_000)) == 2_000
    finally:
        if not saving.is_alive():
            app.close()


def test_persistence_settings_come_from_the_url_with_the_pool_asked_for() -> None:
    env = persistence_env("postgresql://ann:s%40cret@db.example:5433/ledger", connections=1)
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"], env["POSTGRES_DBNAME"]) == ("db.example", "5433", "ledger")
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]) == ("ann", "s@cret")
    assert (env["POSTGRES_POOL_SIZE"], env["POSTGRES_MAX_OVERFLOW"]) == ("1", "1")
    assert persistence_env(None) == {"PERSISTENCE_MODULE": "eventsourcing.popo"}
