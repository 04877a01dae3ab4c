from __future__ import annotations

import json

import httpx
import pytest

from console.api import ApiError, ServiceClient

URLS = {"ip-registry": "http://registry", "revenue-share": "http://rs"}


def client(handler: httpx.MockTransport) -> ServiceClient:
    return ServiceClient(httpx.AsyncClient(transport=handler), URLS, "the-users-token")


async def test_calls_carry_the_users_token_and_drop_empty_parameters() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"items": []})

    await client(httpx.MockTransport(handle)).get("ip-registry", "/assets", {"owner": "m1", "status": "", "x": None})
    assert seen[0].headers["Authorization"] == "Bearer the-users-token"
    assert seen[0].headers["X-Correlation-ID"].startswith("console-")
    assert str(seen[0].url) == "http://registry/assets?owner=m1"


async def test_a_write_sends_its_idempotency_key() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"id": "a1"})

    answer = await client(httpx.MockTransport(handle)).post(
        "ip-registry", "/assets", {"title": "t"}, idempotency_key="k1"
    )
    assert answer == {"id": "a1"}
    assert seen[0].headers["Idempotency-Key"] == "k1"
    assert json.loads(seen[0].content) == {"title": "t"}


async def test_an_error_answer_becomes_an_api_error_with_its_fields() -> None:
    body = {
        "error": {
            "code": "invalid_request",
            "message": "invalid value for: title",
            "details": {"problems": [{"field": "title", "message": "too short", "type": "x"}]},
        }
    }

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(422, json=body)

    with pytest.raises(ApiError) as raised:
        await client(httpx.MockTransport(handle)).post("ip-registry", "/assets", {})
    assert (raised.value.service, raised.value.status, raised.value.code) == ("ip-registry", 422, "invalid_request")
    assert raised.value.field_messages() == {"title": "too short"}


async def test_a_non_json_error_and_an_unreachable_service_are_api_errors_too() -> None:
    def plain(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="bad gateway")

    with pytest.raises(ApiError) as raised:
        await client(httpx.MockTransport(plain)).get("revenue-share", "/periods")
    assert (raised.value.status, raised.value.message) == (502, "bad gateway")

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(ApiError) as unreachable:
        await client(httpx.MockTransport(down)).get("revenue-share", "/periods")
    assert (unreachable.value.status, unreachable.value.code) == (503, "unreachable")
