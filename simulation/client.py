"""HTTP to the four services as their users would call them, riding out a service's restart.

Every write carries an `Idempotency-Key`, so a request whose answer was lost when its
service was killed is sent again and gets the first answer, never a second effect.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from ipshare.auth import Role
from ipshare_devtools.stack import StackSettings

RETRY_SECONDS = 400.0


class Disagreement(Exception):
    """A promise of the product broke: the simulation stops and names it."""


@dataclass
class Answer:
    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return self.status < 400


@dataclass
class Tally:
    """What the services answered, per action: accepted, refused (4xx, with a sample reason)."""

    accepted: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)

    def count(self, action: str, answer: Answer) -> None:
        if answer.ok:
            self.accepted[action] = self.accepted.get(action, 0) + 1
            return
        self.refused[action] = self.refused.get(action, 0) + 1
        error = answer.body.get("error", {}) if isinstance(answer.body, dict) else {}
        self.reasons.setdefault(action, f"{answer.status} {error.get('code', '')}: {error.get('message', '')}"[:160])


class Client:
    def __init__(self, settings: StackSettings, timeout: float = 60.0) -> None:
        self._issuer = settings.dev_issuer()
        self.urls = {s.name: s.base_url for s in settings.services()}
        self._http = httpx.Client(timeout=timeout)
        self._tokens: dict[tuple[Role, str | None], str] = {}

    def close(self) -> None:
        self._http.close()

    def _token(self, role: Role, member_id: str | None) -> str:
        if (role, member_id) not in self._tokens:
            member = uuid.UUID(member_id) if member_id else None
            self._tokens[(role, member_id)] = self._issuer.person_token(role, member, name=f"simulation {role}")
        return self._tokens[(role, member_id)]

    def post(self, service: str, path: str, body: Any, role: Role = Role.ADMIN, member_id: str | None = None,
             *, key: str | None = None) -> Answer:  # fmt: skip
        headers = {"Idempotency-Key": key or str(uuid.uuid4())}
        return self._send("POST", service, path, role, member_id, headers, json=body)

    def get(self, service: str, path: str, role: Role = Role.FINANCE, **params: Any) -> Answer:
        return self._send("GET", service, path, role, None, {}, params=params)

    def _send(self, method: str, service: str, path: str, role: Role, member_id: str | None,
              headers: dict[str, str], **kwargs: Any) -> Answer:  # fmt: skip
        headers = {**headers, "Authorization": f"Bearer {self._token(role, member_id)}"}
        # A killed service is back within seconds (minutes on a busy machine); a request it never
        # answered holds its key until the lease (IDEMPOTENCY_LEASE_SECONDS, 120 s) lets a retry run it.
        deadline = time.monotonic() + RETRY_SECONDS
        while time.monotonic() < deadline:
            try:
                response = self._http.request(method, self.urls[service] + path, headers=headers, **kwargs)
            except httpx.TransportError:
                time.sleep(0.5)
                continue
            if response.status_code == 409 and _code(response) == "request_in_progress":
                time.sleep(1.0)
                continue
            body = response.json() if response.content and "json" in response.headers.get("content-type", "") else None
            if response.status_code >= 500:
                raise Disagreement(f"{method} {service}{path} answered {response.status_code}: {response.text[:500]}")
            return Answer(response.status_code, body)
        raise Disagreement(f"{method} {service}{path}: no answer in {RETRY_SECONDS:.0f} s")


def _code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return ""
