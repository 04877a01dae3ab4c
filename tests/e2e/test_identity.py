"""The running services read the stack issuer's tokens over its real discovery and JWKS, and a
service's own credentials act for no person."""

from __future__ import annotations

import uuid

import grpc
import httpx
import pytest

from ipshare.auth import Role, issue_token
from ipshare.settings import AuthSettings
from ipshare_contracts.ipregistry.v1 import service_pb2, service_pb2_grpc
from ipshare_devtools.stack import Stack

pytestmark = pytest.mark.e2e


def service_bearer(stack: Stack, client_id: str) -> str:
    """A service's token, as a service gets it: client credentials at the issuer's token endpoint."""
    answer = httpx.post(f"{stack.issuer.url}/token", data={"grant_type": "client_credentials"},
                        auth=(client_id, stack.issuer.client_secret), timeout=10)  # fmt: skip
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def test_a_service_token_is_refused_where_a_person_acts_for_a_member(stack: Stack) -> None:
    registry = stack.replicas_of("ip-registry")[0].base_url
    token = service_bearer(stack, "commercialization")
    member = str(uuid.uuid4())
    body = {"name": "x", "kind": "enterprise", "state_established": False, "credit_code": "x"}
    confirm = f"/assets/{uuid.uuid4()}/ownership/confirmations"
    for method, path, json in (("POST", "/members", body), ("GET", f"/members/{member}/portfolio", None),
                               ("POST", confirm, {"member_id": member})):  # fmt: skip
        answer = httpx.request(method, registry + path, json=json, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 403, answer.text
        assert "act for no person" in answer.json()["error"]["message"]


def test_a_service_token_is_good_between_services(stack: Stack) -> None:
    registry = stack.replicas_of("ip-registry")[0]
    metadata = (("authorization", f"Bearer {service_bearer(stack, 'commercialization')}"),)
    with grpc.insecure_channel(f"127.0.0.1:{registry.grpc_port}") as channel:
        stub = service_pb2_grpc.IpRegistryStub(channel)
        request = service_pb2.GetOwnershipAsOfRequest(asset_id=str(uuid.uuid4()), as_of="2026-01-01")
        with pytest.raises(grpc.RpcError) as refused:
            stub.GetOwnershipAsOf(request, metadata=metadata, timeout=10)
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND  # past the authentication: no such asset


@pytest.mark.parametrize("claims", [{"aud": "another-api"}, {"iss": "http://127.0.0.1:1"}])
def test_a_token_for_another_audience_or_from_another_issuer_is_a_401(stack: Stack, claims: dict[str, str]) -> None:
    registry = stack.replicas_of("ip-registry")[0].base_url
    token = stack.issuer.mint("someone", [Role.ADMIN.value], **claims)
    answer = httpx.get(f"{registry}/assets", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"


def test_a_shared_secret_token_is_refused_by_services_reading_the_issuer(stack: Stack) -> None:
    token = issue_token(AuthSettings(), Role.ADMIN)
    answer = httpx.get(f"{stack.replicas_of('ip-registry')[0].base_url}/assets",
                       headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert answer.status_code == 401
