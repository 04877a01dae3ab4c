"""Who did something: the person or service behind a recorded event, as the audit history names it.

An `Actor` is a plain value (no tokens, no web): the token's subject and display name, the role it
acted in, and for members the member it acted for. It travels in each stored event's metadata as
flat strings under a prefix (``actor.subject``, ``actor.name``, ...), and a service reacting to
another's event records itself as the actor with the cause's actor under ``caused_by.``.
Events recorded before actors were kept have neither; their metadata holds only the
``principal`` string ("role:member-id" or "role:subject"), shown as it was recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ACTOR = "actor"
CAUSED_BY = "caused_by"
_FIELDS = ("subject", "name", "member_id", "role")


@dataclass(frozen=True, slots=True)
class Actor:
    subject: str
    role: str
    name: str | None = None
    member_id: str | None = None

    def __str__(self) -> str:
        who = f"{self.name} ({self.subject})" if self.name else self.subject
        return f"{who}, {self.role} for member {self.member_id}" if self.member_id else f"{who}, {self.role}"

    def to_metadata(self, prefix: str = ACTOR) -> dict[str, str]:
        return {f"{prefix}.{name}": getattr(self, name) or "" for name in _FIELDS}

    @classmethod
    def from_metadata(cls, meta: Mapping[str, str], prefix: str = ACTOR) -> Actor | None:
        """The actor kept under that prefix; None where none was (an event recorded before actors were)."""
        subject = meta.get(f"{prefix}.subject")
        if not subject:
            return None
        return cls(subject, meta.get(f"{prefix}.role", ""), meta.get(f"{prefix}.name") or None,
                   meta.get(f"{prefix}.member_id") or None)  # fmt: skip

    def to_json(self) -> dict[str, str | None]:
        return {name: getattr(self, name) for name in _FIELDS}


@dataclass(frozen=True, slots=True)
class Attribution:
    """What an event's metadata says of who did it: the actor, the actor of what caused it, and the
    principal string every event has carried (the only one an event recorded before actors has)."""

    actor: Actor | None
    caused_by: Actor | None
    principal: str

    @classmethod
    def of(cls, meta: Mapping[str, str]) -> Attribution:
        return cls(Actor.from_metadata(meta), Actor.from_metadata(meta, CAUSED_BY), meta.get("principal", ""))

    def __str__(self) -> str:
        """Who recorded the event, in words (what the auditor's report says beside an event)."""
        if self.actor is None:
            principal = f"; principal {self.principal}" if self.principal else ""
            return f"unknown (recorded before actors were kept{principal})"
        return f"{self.actor}, on behalf of {self.caused_by}" if self.caused_by else str(self.actor)

    def to_json(self) -> dict[str, Any]:
        return {
            "actor": self.actor.to_json() if self.actor else None,
            "caused_by": self.caused_by.to_json() if self.caused_by else None,
            "principal": self.principal,
        }
