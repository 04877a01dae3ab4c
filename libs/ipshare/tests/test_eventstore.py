from __future__ import annotations

import uuid

from eventsourcing.domain import Aggregate, event

from ipshare.auth import Principal, Role
from ipshare.eventstore import CommandContext, ServiceApplication


class Widget(Aggregate):
    @event("Made")
    def __init__(self, name: str) -> None:
        self.name = name


class Workshop(ServiceApplication):
    source = "workshop"

    def make(self, ctx: CommandContext, name: str) -> uuid.UUID:
        widget = Widget(name)
        self.record(ctx, widget)
        return widget.id


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
