"""The four services' public HTTP APIs, called with the signed-in user's own token.

The console owns no data and holds no privilege of its own: every read and write is
the user's, and the services decide what each role may see or do.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

SERVICES = ("ip-registry", "commercialization", "incubation", "revenue-share")


@dataclass
class ApiError(Exception):
    """A service's error answer (`{"error": {"code", "message", "details"}}`), or no answer at all."""

    service: str
    status: int
    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.service} answered {self.status} {self.code}: {self.message}"

    @classmethod
    def of(cls, service: str, response: httpx.Response) -> ApiError:
        try:
            error = response.json()["error"]
            return cls(service, response.status_code, str(error.get("code", "")), str(error.get("message", "")),
                       dict(error.get("details") or {}))  # fmt: skip
        except (ValueError, KeyError, TypeError, AttributeError):
            return cls(service, response.status_code, "http_error", response.text[:300] or response.reason_phrase)

    def field_messages(self) -> dict[str, str]:
        """What the error says about each request field (`owners.0.share_bps` -> message)."""
        messages: dict[str, str] = {}
        for problem in self.details.get("problems") or []:
            if isinstance(problem, Mapping) and problem.get("field"):
                messages.setdefault(str(problem["field"]), str(problem.get("message", "")))
        if isinstance(self.details.get("field"), str):
            messages.setdefault(self.details["field"], self.message)
        return messages


@dataclass(frozen=True)
class Download:
    content: bytes
    media_type: str


class ServiceClient:
    """One user's calls to the services; `token` is their bearer token."""

    def __init__(self, http: httpx.AsyncClient, urls: Mapping[str, str], token: str) -> None:
        self.http = http
        self.urls = urls
        self.token = token

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}", "X-Correlation-ID": f"console-{uuid.uuid4()}"}
        return headers | dict(extra or {})

    async def _send(self, method: str, service: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = self._headers(kwargs.pop("headers", None))
        try:
            response = await self.http.request(method, self.urls[service] + path, headers=headers, **kwargs)
        except httpx.HTTPError as error:
            raise ApiError(service, 503, "unreachable", f"{service} did not answer: {error}") from error
        if response.is_error:
            raise ApiError.of(service, response)
        return response

    async def get(self, service: str, path: str, params: Mapping[str, Any] | None = None) -> Any:
        query = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        return (await self._send("GET", service, path, params=query)).json()

    async def download(self, service: str, path: str, params: Mapping[str, Any] | None = None) -> Download:
        response = await self._send("GET", service, path, params=dict(params or {}))
        return Download(response.content, response.headers.get("content-type", "application/octet-stream"))

    async def post(self, service: str, path: str, body: Any = None, *, idempotency_key: str | None = None) -> Any:
        """A write; the key (one per form shown) makes a double submit one write, not two."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        response = await self._send("POST", service, path, json=body if body is not None else {}, headers=headers)
        return response.json() if response.content else None

    async def upload(self, service: str, path: str, content: bytes, media_type: str,
                     *, idempotency_key: str | None = None) -> Any:  # fmt: skip
        headers = {"Content-Type": media_type} | ({"Idempotency-Key": idempotency_key} if idempotency_key else {})
        return (await self._send("POST", service, path, content=content, headers=headers)).json()
