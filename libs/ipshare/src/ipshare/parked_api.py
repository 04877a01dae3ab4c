"""`/admin/parked-events`: the events the relay could not publish, and asking it to try again."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from sqlalchemy import select, update

from ipshare.permissions import Permission
from ipshare.relay import Relay, parked_events
from ipshare.web import require_permission

router = APIRouter(
    prefix="/admin/parked-events",
    tags=["operations"],
    dependencies=[Depends(require_permission(Permission.HANDLE_PARKED_EVENTS))],
)


class ParkedEventOut(BaseModel):
    topic: str
    position: int
    aggregate_id: str
    reason: str
    parked_at: datetime
    retry_requested: bool


class RetryRequested(BaseModel):
    retry_requested: int


def _relay(request: Request) -> Relay:
    relay: Relay | None = request.app.state.relay()
    assert relay is not None, "runtime not started"
    return relay


@router.get("")
async def list_parked(request: Request) -> list[ParkedEventOut]:
    """Every parked event of this service, oldest first, with why it was parked."""
    relay = _relay(request)
    async with relay.engine.connect() as conn:
        rows = await conn.execute(
            select(parked_events).where(parked_events.c.topic == relay.topic).order_by(parked_events.c.position)
        )
        return [ParkedEventOut.model_validate(dict(row._mapping)) for row in rows]


@router.post("/retry", status_code=202)
async def retry_parked(request: Request, aggregate_id: Annotated[uuid.UUID | None, Query()] = None) -> RetryRequested:
    """Ask the leader's relay to publish the parked events again (all, or one aggregate's), in order."""
    relay = _relay(request)
    statement = update(parked_events).where(parked_events.c.topic == relay.topic).values(retry_requested=True)
    if aggregate_id is not None:
        statement = statement.where(parked_events.c.aggregate_id == str(aggregate_id))
    async with relay.engine.begin() as conn:
        result = await conn.execute(statement)
    return RetryRequested(retry_requested=result.rowcount)
