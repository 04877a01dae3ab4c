"""Tokens of an OIDC issuer, its keys fetched over real HTTP: rotation, refusals, claims, service
credentials, and the refusal of development credentials outside development mode."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from ipshare import dev_issuer
from ipshare.audit_log import signing_key
from ipshare.auth import AuthError, ClaimNames, Principal, Role, principal_from_claims
from ipshare.identity import (
    DevelopmentIssuerRefused,
    IssuerUnavailable,
    check_issuer,
    development_person_token,
    pkce_challenge,
    read_token,
    service_token,
    verifier_for,
)
from ipshare.settings import AuthSettings, ServiceSettings
from ipshare.web import CurrentPrincipal, create_api
from ipshare_devtools.testing.issuer import ServedIssuer, served_issuer

MEMBER = uuid.UUID("6f1c1f43-6a55-4b8e-9d4a-3f0f6d1e2a10")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedIssuer]:
    with served_issuer(tmp_path / "issuer") as issuer:
        yield issuer


def settings_of(served: ServedIssuer, **overrides: Any) -> AuthSettings:
    chosen: dict[str, Any] = {"oidc_issuer": served.url, "ipshare_dev_mode": True, **overrides}
    return AuthSettings(**chosen)


@pytest.fixture
async def client(served: ServedIssuer) -> AsyncIterator[httpx.AsyncClient]:
    api = create_api("test", settings_of(served), {})

    @api.get("/me")
    def me(principal: CurrentPrincipal) -> dict[str, str | None]:
        return {"role": principal.role.value, "member": str(principal.member_id), "name": principal.name}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://test") as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- key rotation ---------------------------------------------------------------------------------


def test_a_rotated_key_is_accepted_and_a_retired_one_refused_once_the_key_set_is_refetched(
    served: ServedIssuer,
) -> None:
    settings = settings_of(served, oidc_jwks_cache_seconds=1, oidc_jwks_refetch_seconds=0)
    issuer = served.issuer
    old = issuer.person_token(Role.FINANCE)
    assert read_token(settings, old).role is Role.FINANCE

    issuer.rotate()  # the new key signs; the old one stays in the JWKS
    new = issuer.person_token(Role.AUDITOR)
    assert read_token(settings, new).role is Role.AUDITOR  # an unknown kid refetched the key set
    assert read_token(settings, old).role is Role.FINANCE

    [old_kid, _] = issuer.key_ids()
    issuer.retire(old_kid)
    time.sleep(1.1)  # past the cached key set's lifespan: the next token refetches it
    with pytest.raises(AuthError, match=old_kid):
        read_token(settings, old)
    assert read_token(settings, new).role is Role.AUDITOR


def test_unknown_kids_refetch_the_key_set_at_most_once_per_interval(served: ServedIssuer) -> None:
    settings = settings_of(served, oidc_jwks_refetch_seconds=3600)
    read_token(settings, served.issuer.person_token(Role.FINANCE))
    assert served.requests["/jwks"] == 1
    served.issuer.rotate()
    for _ in range(5):
        with pytest.raises(AuthError):
            read_token(settings, served.issuer.person_token(Role.FINANCE))
    assert served.requests["/jwks"] == 1  # the first fetch started the interval: no refetch in it


# -- refusals, as the HTTP API answers them ------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _handmade(header: dict[str, Any], claims: dict[str, Any], sign: Any = None) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = sign(signing_input.encode()) if sign else b""
    return f"{signing_input}.{_b64(signature)}"


def _claims(served: ServedIssuer, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": served.url, "aud": "ipshare", "sub": "someone", "roles": ["admin"], "iat": now,
            "exp": now + 600, **changes}  # fmt: skip


def _public_pem(served: ServedIssuer) -> bytes:
    kid = served.issuer.key_ids()[-1]
    key = serialization.load_pem_private_key((served.issuer.folder / f"{kid}.pem").read_bytes(), None)
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


REFUSED = {
    "wrong audience": lambda s: s.issuer.mint("someone", ["admin"], aud="another-api"),
    "wrong issuer": lambda s: s.issuer.mint("someone", ["admin"], iss="http://127.0.0.1:1/other"),
    "expired past the leeway": lambda s: s.issuer.mint("someone", ["admin"], exp=int(time.time()) - 120),
    "alg none": lambda s: _handmade({"alg": "none", "kid": s.issuer.key_ids()[-1]}, _claims(s)),
    "HS256 keyed with the public key": lambda s: _handmade(
        {"alg": "HS256", "kid": s.issuer.key_ids()[-1], "typ": "JWT"},
        _claims(s),
        lambda data: hmac.new(_public_pem(s), data, hashlib.sha256).digest(),
    ),
    "no role": lambda s: s.issuer.mint("someone", []),
    "two roles": lambda s: s.issuer.mint("someone", ["admin", "finance"]),
    "a member without its id": lambda s: s.issuer.mint("someone", ["member"]),
    "not a JWT": lambda _: "not-a-token",
}


@pytest.mark.parametrize("case", sorted(REFUSED))
async def test_a_bad_token_is_a_401_with_a_json_body(
    served: ServedIssuer, client: httpx.AsyncClient, case: str
) -> None:
    answer = await client.get("/me", headers=bearer(REFUSED[case](served)))
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"]["code"] == "unauthorized"
    assert answer.headers["www-authenticate"] == "Bearer"


async def test_an_expiry_within_the_leeway_is_accepted(served: ServedIssuer, client: httpx.AsyncClient) -> None:
    token = served.issuer.mint("someone", ["finance"], exp=int(time.time()) - 10, name="Fiona")
    answer = await client.get("/me", headers=bearer(token))
    assert answer.json() == {"role": "finance", "member": "None", "name": "Fiona"}


async def test_a_member_token_names_its_member_and_its_name(served: ServedIssuer, client: httpx.AsyncClient) -> None:
    token = served.issuer.person_token(Role.MEMBER, MEMBER, name="Tsinghua TTO")
    answer = await client.get("/me", headers=bearer(token))
    assert answer.json() == {"role": "member", "member": str(MEMBER), "name": "Tsinghua TTO"}


def test_an_issuer_that_does_not_answer_is_503_not_401(tmp_path: Path) -> None:
    with served_issuer(tmp_path / "gone") as gone:
        settings, token = settings_of(gone), gone.issuer.person_token(Role.ADMIN)
    with pytest.raises(IssuerUnavailable):
        read_token(settings, token)


# -- claim mapping --------------------------------------------------------------------------------


def test_claims_are_read_where_the_settings_say() -> None:
    keycloak = {"oidc_roles_claim": "realm_access.roles", "oidc_role_prefix": "ipshare-",
                "oidc_member_claim": "ipshare.member", "oidc_name_claim": "preferred_username"}  # fmt: skip
    names = ClaimNames.of(AuthSettings(**keycloak))
    claims = {
        "sub": "f:1234",
        "realm_access": {"roles": ["offline_access", "ipshare-member", "default-roles-center"]},
        "ipshare": {"member": str(MEMBER)},
        "preferred_username": "li.wei",
        "name": "not this one",
    }
    assert principal_from_claims(claims, names) == Principal(Role.MEMBER, "f:1234", MEMBER, "li.wei")


def test_a_role_without_the_prefix_is_not_an_ipshare_role() -> None:
    names = ClaimNames(role_prefix="ipshare-")
    with pytest.raises(AuthError, match="exactly one"):
        principal_from_claims({"sub": "x", "roles": ["admin"]}, names)


def test_a_member_claim_that_is_no_uuid_is_refused() -> None:
    with pytest.raises(AuthError, match="member id"):
        principal_from_claims({"sub": "x", "roles": ["member"], "member_id": "acme"}, ClaimNames())


# -- service credentials --------------------------------------------------------------------------


def test_a_service_gets_its_own_token_with_client_credentials(served: ServedIssuer) -> None:
    settings = settings_of(served, oidc_client_id="commercialization", oidc_client_secret=served.issuer.client_secret)
    token = service_token(settings, "commercialization").bearer()
    assert read_token(settings, token) == Principal(Role.SERVICE, "commercialization")
    assert service_token(settings, "commercialization").bearer() == token  # kept until near its expiry
    assert served.requests["/token"] == 1


def test_the_development_issuer_grants_a_person_token_to_its_clients(served: ServedIssuer) -> None:
    settings = settings_of(served, oidc_client_id="console", oidc_client_secret=served.issuer.client_secret)
    token = development_person_token(settings, Role.MEMBER, MEMBER, name="Li Wei")
    assert read_token(settings, token) == Principal(Role.MEMBER, str(MEMBER), MEMBER, "Li Wei")


def test_a_wrong_client_secret_gets_no_token(served: ServedIssuer) -> None:
    settings = settings_of(served, oidc_client_id="intruder", oidc_client_secret="guessed")
    with pytest.raises(AuthError, match="refused a token"):
        service_token(settings, "intruder").bearer()


async def test_a_service_token_acts_for_no_person_over_http(served: ServedIssuer, client: httpx.AsyncClient) -> None:
    answer = await client.get("/me", headers=bearer(served.issuer.service_token("commercialization")))
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "forbidden"


def test_the_issuer_grants_no_person_a_service_role(served: ServedIssuer) -> None:
    with pytest.raises(ValueError, match="service role"):
        served.issuer.person_token(Role.SERVICE)


# -- development credentials outside development mode ---------------------------------------------


def test_the_development_issuer_is_refused_outside_development_mode(served: ServedIssuer) -> None:
    settings = settings_of(served, ipshare_dev_mode=False)
    with pytest.raises(DevelopmentIssuerRefused):
        check_issuer(settings)
    with pytest.raises(DevelopmentIssuerRefused):
        read_token(settings, served.issuer.person_token(Role.ADMIN))


def test_the_shared_secret_is_refused_outside_development_mode() -> None:
    with pytest.raises(ValueError, match="development only"):
        check_issuer(AuthSettings(ipshare_dev_mode=False))


def test_no_audit_key_is_derived_outside_development_mode() -> None:
    with pytest.raises(ValueError, match="AUDIT_SIGNING_KEY"):
        signing_key(ServiceSettings(ipshare_dev_mode=False), "ip-registry")
    assert signing_key(ServiceSettings(ipshare_dev_mode=True), "ip-registry") is not None


def test_a_service_with_the_development_issuer_refuses_to_start(served: ServedIssuer) -> None:
    env = {"OIDC_ISSUER": served.url, "IPSHARE_DEV_MODE": "false", "AUDIT_SIGNING_KEY": "",
           "PATH": "/usr/bin:/bin"}  # fmt: skip
    started = subprocess.run([sys.executable, "-m", "ip_registry.entrypoints.main"], env=env, capture_output=True,
                             text=True, timeout=120)  # fmt: skip
    assert started.returncode != 0
    assert "ip-registry refuses to start" in started.stderr
    assert "development issuer" in started.stderr
    assert served.requests["/.well-known/openid-configuration"] == 1


def test_the_development_issuer_runs_only_in_development_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPSHARE_DEV_MODE", "false")
    with pytest.raises(SystemExit, match="IPSHARE_DEV_MODE=true"):
        dev_issuer.main()


# -- the development issuer's authorization code flow ----------------------------------------------

VERIFIER = "a-verifier-of-forty-three-characters-or-more-0123456789"
REDIRECT = "http://127.0.0.1:9/sign-in/callback?from=test"


def authorization_request(**overrides: str) -> dict[str, str]:
    return {"response_type": "code", "client_id": "console", "redirect_uri": REDIRECT, "scope": "openid profile",
            "state": "the-state", "nonce": "the-nonce", "code_challenge": pkce_challenge(VERIFIER),
            "code_challenge_method": "S256", **overrides}  # fmt: skip


def signed_in_code(served: ServedIssuer, **person: str) -> str:
    answer = httpx.post(f"{served.url}/authorize", data={**authorization_request(), **person})
    assert answer.status_code == 303, answer.text
    location = urlsplit(answer.headers["location"])
    assert location.path == "/sign-in/callback"
    query = parse_qs(location.query)
    assert query["state"] == ["the-state"]
    assert query["from"] == ["test"]
    return query["code"][0]


def redeem(served: ServedIssuer, code: str, verifier: str = VERIFIER, redirect_uri: str = REDIRECT,
           client: str = "console") -> httpx.Response:  # fmt: skip
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "code_verifier": verifier}
    return httpx.post(f"{served.url}/token", data=form, auth=(client, served.issuer.client_secret))


def test_the_development_issuer_signs_a_person_in_with_a_code_and_pkce(served: ServedIssuer) -> None:
    settings = settings_of(served)
    discovery = verifier_for(settings).discovery()
    assert discovery.authorization_endpoint == f"{served.url}/authorize"
    page = httpx.get(discovery.authorization_endpoint, params=authorization_request())
    assert page.status_code == 200
    assert 'name="member_id"' in page.text
    code = signed_in_code(served, role="member", member_id=str(MEMBER), name="Li Wei")

    answer = redeem(served, code)
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    assert read_token(settings, tokens["access_token"]) == Principal(Role.MEMBER, str(MEMBER), MEMBER, "Li Wei")
    identity = verifier_for(settings).id_token_claims(tokens["id_token"], "console")
    assert (identity["nonce"], identity["sub"], identity["name"]) == ("the-nonce", str(MEMBER), "Li Wei")
    with pytest.raises(AuthError, match=r"(?i)audience"):
        verifier_for(settings).id_token_claims(tokens["id_token"], "another-client")
    assert redeem(served, code).json()["error"] == "invalid_grant"  # a code is good once


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"verifier": "another-verifier-of-forty-three-characters-0123456789"}, "PKCE"),
        ({"verifier": ""}, "PKCE"),
        ({"redirect_uri": "http://127.0.0.1:9/elsewhere"}, "redirect URI"),
        ({"client": "another-client"}, "another client"),
    ],
)
def test_a_code_is_refused_and_spent_without_its_verifier_client_or_redirect_uri(
    served: ServedIssuer, change: dict[str, str], reason: str
) -> None:
    code = signed_in_code(served, role="finance")
    refused = redeem(served, code, **change)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    assert reason in refused.json()["error_description"]
    assert redeem(served, code).json()["error"] == "invalid_grant"  # the right verifier comes too late


@pytest.mark.parametrize(
    "change",
    [{"code_challenge_method": "plain"}, {"code_challenge": ""}, {"state": ""}, {"nonce": ""}, {"scope": "profile"},
     {"response_type": "token"}, {"redirect_uri": "javascript:alert(1)"}],
)  # fmt: skip
def test_the_authorization_page_refuses_a_request_without_pkce_state_nonce_or_a_proper_redirect(
    served: ServedIssuer, change: dict[str, str]
) -> None:
    request = authorization_request(**change)
    assert httpx.get(f"{served.url}/authorize", params=request).status_code == 400
    answer = httpx.post(f"{served.url}/authorize", data={**request, "role": "admin"})
    assert answer.status_code == 400  # never redirected with a code


def test_the_authorization_page_asks_a_member_for_its_member_and_never_signs_in_a_service(
    served: ServedIssuer,
) -> None:
    for person in ({"role": "member"}, {"role": "service"}, {"role": "member", "member_id": "not-a-uuid"}):
        answer = httpx.post(f"{served.url}/authorize", data={**authorization_request(), **person})
        assert answer.status_code == 422, person
        assert 'name="role"' in answer.text


# -- RP-initiated logout at the development issuer -----------------------------------------------

SIGNED_OUT = "http://127.0.0.1:9/sign-in"


def id_token_of(served: ServedIssuer) -> str:
    tokens = redeem(served, signed_in_code(served, role="finance")).json()
    return str(tokens["id_token"])


def end_session(served: ServedIssuer, method: str = "GET", **params: str) -> httpx.Response:
    endpoint = verifier_for(settings_of(served)).discovery().end_session_endpoint
    assert endpoint == f"{served.url}/end-session"
    if method == "POST":
        return httpx.post(endpoint, data=params)
    return httpx.get(endpoint, params=params)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_end_session_endpoint_sends_the_browser_back_to_a_registered_address_with_the_state(
    served: ServedIssuer, method: str
) -> None:
    served.issuer.redirect_uris = frozenset({REDIRECT, SIGNED_OUT})
    hint = id_token_of(served)
    answer = end_session(served, method, id_token_hint=hint, client_id="console", post_logout_redirect_uri=SIGNED_OUT,
                         state="the-logout-state")  # fmt: skip
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"{SIGNED_OUT}?state=the-logout-state"
    without_state = end_session(served, method, id_token_hint=hint, post_logout_redirect_uri=SIGNED_OUT)
    assert without_state.headers["location"] == SIGNED_OUT  # the client named by the hint alone
    nowhere = end_session(served, method, id_token_hint=hint)
    assert nowhere.status_code == 200
    assert "You are signed out" in nowhere.text


def test_an_expired_id_token_still_names_the_sign_in_to_end(served: ServedIssuer) -> None:
    served.issuer.redirect_uris = frozenset({SIGNED_OUT})
    served.issuer.ttl_seconds = -3600
    expired = served.issuer.id_token("console", "a-nonce", Role.FINANCE, None, None)
    answer = end_session(served, id_token_hint=expired, client_id="console", post_logout_redirect_uri=SIGNED_OUT)
    assert answer.status_code == 303, answer.text


def forged_id_token(tmp_path: Path, served: ServedIssuer) -> str:
    """An ID token for the console with the issuer's URL and key id, signed with another key."""
    impostor = dev_issuer.DevIssuer.open(tmp_path / "impostor", served.url)
    return impostor.id_token("console", "a-nonce", Role.ADMIN, None, None)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"post_logout_redirect_uri": "http://127.0.0.1:9/elsewhere"}, "not registered"),
        ({"post_logout_redirect_uri": SIGNED_OUT + "?next=//evil.example"}, "not registered"),
        ({"post_logout_redirect_uri": "https://evil.example/sign-in"}, "not registered"),
        ({"client_id": "another-client"}, "another client"),
        ({"id_token_hint": "forged"}, "not an ID token of this issuer"),
        ({"id_token_hint": "not-a-jwt"}, "not an ID token of this issuer"),
        ({"id_token_hint": "", "client_id": ""}, "needs an id_token_hint or a client_id"),
    ],
    ids=["unregistered-path", "registered-with-a-query", "unregistered-host", "hint-of-another-client",
         "hint-signed-by-another-key", "hint-no-token", "no-client-named"],
)  # fmt: skip
def test_the_end_session_endpoint_refuses_an_unregistered_address_or_a_hint_it_did_not_sign(
    served: ServedIssuer, tmp_path: Path, change: dict[str, str], reason: str
) -> None:
    served.issuer.redirect_uris = frozenset({REDIRECT, SIGNED_OUT})
    request = {"id_token_hint": id_token_of(served), "client_id": "console", "post_logout_redirect_uri": SIGNED_OUT,
               "state": "the-logout-state", **change}  # fmt: skip
    if request["id_token_hint"] == "forged":
        request["id_token_hint"] = forged_id_token(tmp_path, served)
    answer = end_session(served, **request)
    assert answer.status_code == 400
    assert "location" not in answer.headers  # the browser is sent nowhere
    assert reason in answer.text
    assert "role='alert'" in answer.text


def test_with_nothing_registered_no_post_logout_address_is_followed(served: ServedIssuer) -> None:
    answer = end_session(served, id_token_hint=id_token_of(served), post_logout_redirect_uri=SIGNED_OUT)
    assert answer.status_code == 400
    assert "not registered" in answer.text


def test_the_development_issuer_reads_its_registered_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEV_ISSUER_REDIRECT_URIS", f" {REDIRECT} ,{SIGNED_OUT},")
    settings = dev_issuer.DevIssuerSettings()
    assert settings.redirect_uris == frozenset({REDIRECT, SIGNED_OUT})
