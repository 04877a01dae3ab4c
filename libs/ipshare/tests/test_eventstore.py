from __future__ import annotations

import threading
import uuid

import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import StoredEvent

from ipshare.auth import Principal, Role
from ipshare.eventstore import META_KEY, CommandContext, ServiceApplication, persistence_env
from ipshare_kernel.actor import Actor


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
        assert meta == {
            "principal": "admin:alice", "correlation_id": "corr-1", "causation_id": "cause-1",
            "actor.subject": "alice", "actor.name": "", "actor.member_id": "", "actor.role": "admin",
        }  # fmt: skip
        assert "_meta" not in vars(domain_event)
    finally:
        app.close()


def test_every_event_names_its_actor_and_the_actor_of_its_cause(event_store_env: dict[str, str]) -> None:
    app = Workshop(env=event_store_env)
    member = uuid.uuid4()
    person = Principal(Role.MEMBER, "auth0|ana", member, name="Ana Lima")
    try:
        made_by_ana = app.make(CommandContext(person), "gear")
        cause = Actor("auth0|ana", "member", "Ana Lima", str(member))
        made_for_ana = app.make(CommandContext(Principal(Role.SERVICE, "dispatcher"), caused_by=cause), "cog")
        ana = app.attribution(made_by_ana, 1)
        assert ana.actor == cause
        assert (ana.caused_by, ana.principal) == (None, f"member:{member}")
        service = app.attribution(made_for_ana, 1)
        assert service.actor == Actor("dispatcher", "service")
        assert service.caused_by == cause
    finally:
        app.close()


def test_an_event_recorded_before_actors_loads_with_its_actor_unknown(event_store_env: dict[str, str]) -> None:
    app = Workshop(env=event_store_env)
    widget = Widget("gear")
    pending = widget.collect_events()
    stored = app.mapper.to_stored_event(pending[0])  # outside `record`: no metadata, as before
    state = app.mapper.transcoder.decode(stored.state)
    state[META_KEY] = {"principal": "member:42", "correlation_id": "c", "causation_id": ""}  # the old shape
    app.recorder.insert_events([StoredEvent(stored.originator_id, stored.originator_version, stored.topic,
                                            app.mapper.transcoder.encode(state))])  # fmt: skip
    try:
        assert app.repository.get(widget.id).name == "gear"
        old = app.attribution(widget.id, 1)
        assert (old.actor, old.caused_by, old.principal) == (None, None, "member:42")
        assert old.to_json() == {"actor": None, "caused_by": None, "principal": "member:42"}
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
