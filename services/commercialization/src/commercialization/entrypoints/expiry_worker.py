"""The expiry worker: an active license whose term has ended expires on its own.

It follows the notification log for the license events that set or end a term (grants,
amendments, terminations, expiries) and keeps, in memory, the end date of each license
still running. Every minute (and after every save) it expires those whose end date lies
before today by the service's clock: `LicenseExpired`, dated the end date, the same
event finance records with `POST /licenses/{id}/expiry`.

Nothing of it is stored but the events: on start it reads the log from the beginning
again. Each license is loaded and checked before it is expired, so a license already
expired, terminated or extended meanwhile is left alone; a save that loses a race with
another command is tried again at the next round. Running it twice (or beside finance's
route) expires each license once; it is a `Follower`, run by the elected leader among the
service's replicas.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

from eventsourcing.persistence import IntegrityError

from commercialization.application import CommercializationApplication
from commercialization.application.licensing import Licensing
from commercialization.domain.license import LicenseStatus
from ipshare.auth import Principal, Role
from ipshare.eventstore import CommandContext
from ipshare.follower import Follower
from ipshare.observability import log
from ipshare.runtime import Runtime
from ipshare_kernel.errors import Conflict, NotFound

NAME = "license-expiry"
EXPIRY = Principal(Role.SERVICE, NAME)


class LicenseExpiry:
    name = NAME

    def __init__(
        self,
        app: Licensing,
        *,
        today: Callable[[], date] | None = None,
        poll_seconds: float = 60.0,
        batch_size: int = 1000,
    ) -> None:
        self.app = app
        self.today = today or app.clock.today  # the service's clock unless told otherwise
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.position = 0  # the last log entry followed
        self.ends: dict[uuid.UUID, date | None] = {}  # running licenses -> end date (None: open-ended)
        self.follower = Follower(self, poll_seconds=poll_seconds)

    def wake_threadsafe(self, loop: asyncio.AbstractEventLoop) -> None:
        """Called from the thread that saved events: look now, not at the next poll."""
        self.follower.wake_threadsafe(loop)

    async def run(self) -> None:
        await self.follower.run()

    async def start(self) -> None:
        """Read the log from the beginning again (after a restart or an election)."""
        self.position, self.ends = 0, {}
        log.info("license expiry started")

    async def step(self) -> bool:
        expired = await self.expire_due()
        if expired:
            log.info("licenses expired", license_ids=[str(i) for i in expired], as_of=self.today().isoformat())
        return False

    async def expire_due(self) -> list[uuid.UUID]:
        """Follow the log, then expire every running license whose term ended before today."""
        await asyncio.to_thread(self.follow)
        today = self.today()
        due = sorted((i for i, end in self.ends.items() if end is not None and end < today), key=str)
        expired = []
        for license_id in due:
            outcome = await asyncio.to_thread(self._expire, license_id, today)
            if outcome == "expired":
                expired.append(license_id)
            if outcome != "retry":
                self.ends.pop(license_id, None)
        return expired

    def follow(self) -> None:
        """Bring the end dates up to date with the log (grants, amendments, terminations, expiries)."""
        while batch := self.app.license_terms_after(self.position, self.batch_size):
            for position, license_id, end_date, running in batch:
                if running:
                    self.ends[license_id] = end_date
                else:
                    self.ends.pop(license_id, None)
                self.position = position
            if len(batch) < self.batch_size:
                return

    def _expire(self, license_id: uuid.UUID, today: date) -> str:
        """'expired', 'done' (nothing to do: not active, or its term runs on) or 'retry'."""
        try:
            license = self.app.get_license(CommandContext(EXPIRY), license_id)
        except NotFound:
            return "done"
        if license.status is not LicenseStatus.ACTIVE or license.end_date is None or license.end_date >= today:
            return "done"  # expired or terminated already, or extended: a later amendment says so in the log
        ctx = CommandContext(principal=EXPIRY, correlation_id=f"{NAME}:{license_id}:{today.isoformat()}")
        try:
            self.app.expire_license(ctx, license_id, today)
        except (Conflict, IntegrityError) as exc:  # another command saved the license meanwhile: look again
            log.warning("license expiry lost a race; retrying", license_id=str(license_id), error=str(exc))
            return "retry"
        return "expired"


def license_expiry(runtime: Runtime[CommercializationApplication, Any]) -> Follower:
    """The expiry worker of a running service: woken by every save (by the runtime), polling every minute."""
    return LicenseExpiry(runtime.app).follower
