"""Signing in at the identity provider (the authorization code flow with PKCE, state and nonce), against
the development issuer over real HTTP: the console's redirect, the issuer's page, the callback, and
every answer that must leave nobody signed in; and signing out there too (RP-initiated logout)."""

from __future__ import annotations

import dataclasses
import html
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from console import oidc
from console.session import SESSION_COOKIE
from console.settings import ConsoleSettings
from console.web import create_app
from ipshare.identity import pkce_challenge, read_token, verifier_for
from ipshare_devtools.testing.issuer import ServedIssuer, served_issuer

MEMBER = uuid.UUID("0d4b7d3e-58a4-4c55-9d0e-0b8b6c4f7a11")
SIGNED_OUT = "http://console/sign-in"  # where the provider sends the browser back after a sign-out


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedIssuer]:
    with served_issuer(tmp_path / "issuer", redirect_uris=["http://console/sign-in/callback", SIGNED_OUT]) as issuer:
        yield issuer


@pytest.fixture
def settings(served: ServedIssuer) -> ConsoleSettings:
    return ConsoleSettings(oidc_issuer=served.url, ipshare_dev_mode=True, oidc_client_id="console",
                           oidc_client_secret=served.issuer.client_secret)  # fmt: skip


@asynccontextmanager
async def console_with(settings: ConsoleSettings) -> AsyncIterator[httpx.AsyncClient]:
    """A browser on a console with these settings (the services never answer: no page here needs them)."""
    app = create_app(settings, httpx.MockTransport(lambda _: httpx.Response(404)))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://console") as client,
    ):
        yield client


@pytest.fixture
async def browser(settings: ConsoleSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with console_with(settings) as client:
        yield client


async def start(browser: httpx.AsyncClient, next_page: str = "") -> dict[str, str]:
    """The console's redirect to the provider: the authorization request's parameters."""
    answer = await browser.get("/sign-in/provider", params={"next": next_page} if next_page else None)
    assert answer.status_code == 303, answer.text
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}


def at_the_issuer(served: ServedIssuer, request: dict[str, str], **person: str) -> str:
    """The person picks who to be on the issuer's page; the issuer's redirect back, as the browser follows it."""
    with httpx.Client(base_url=served.url) as issuer:
        page = issuer.get("/authorize", params=request)
        assert page.status_code == 200, page.text
        assert 'name="role"' in page.text
        answer = issuer.post("/authorize", data={**request, **person})
    assert answer.status_code == 303, answer.text
    target = urlsplit(answer.headers["location"])
    return f"{target.path}?{target.query}"


async def test_a_person_signs_in_at_the_provider_and_the_session_holds_its_access_token(
    browser: httpx.AsyncClient, served: ServedIssuer, settings: ConsoleSettings
) -> None:
    request = await start(browser, "/portfolio?kind=design")
    assert request["response_type"] == "code"
    assert request["client_id"] == "console"
    assert request["redirect_uri"] == "http://console/sign-in/callback"
    assert request["code_challenge_method"] == "S256"
    assert len(request["state"]) >= 32
    assert len(request["nonce"]) >= 32
    assert "openid" in request["scope"].split()
    flow = browser.cookies.get(oidc.FLOW_COOKIE, path=oidc.CALLBACK_PATH)
    assert flow is not None

    callback = at_the_issuer(served, request, role="member", member_id=str(MEMBER), name="Li Wei")
    answer = await browser.get(callback)
    assert answer.status_code == 200, answer.text
    assert 'url=/portfolio?kind=design"' in answer.text  # on to the page the sign-in began from
    session = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{SESSION_COOKIE}="))
    assert "HttpOnly" in session
    assert "SameSite=strict" in session
    token = session.split(";")[0].split("=", 1)[1]
    principal = read_token(settings, token)
    assert (principal.role.value, principal.member_id, principal.name) == ("member", MEMBER, "Li Wei")
    assert any(c.startswith(f'{oidc.FLOW_COOKIE}=""') for c in answer.headers.get_list("set-cookie"))

    home = await browser.get("/")
    assert home.headers["location"] == "/portfolio"
    signed_out = await sign_out(browser)
    assert signed_out.status_code == 200  # a page moving on to the provider's end-session endpoint
    assert any(c.startswith(f'{SESSION_COOKIE}=""') for c in signed_out.headers.get_list("set-cookie"))
    assert (await browser.get("/")).headers["location"].startswith("/sign-in")


async def sign_out(browser: httpx.AsyncClient) -> httpx.Response:
    return await browser.post("/sign-out", data={"csrf_token": csrf_of((await browser.get("/sign-in")).text)})


async def signed_in(browser: httpx.AsyncClient, served: ServedIssuer, **person: str) -> str:
    """A sign-in at the provider; the ID token it keeps for the sign-out."""
    answer = await browser.get(at_the_issuer(served, await start(browser), **person))
    assert answer.status_code == 200, answer.text
    kept = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{oidc.ID_TOKEN_COOKIE}="))
    assert all(part in kept for part in ("HttpOnly", "Path=/sign-out", "SameSite=strict")), kept
    id_token = browser.cookies.get(oidc.ID_TOKEN_COOKIE, path=oidc.SIGN_OUT_PATH)
    assert id_token
    return id_token


def moves_on_to(page: str) -> str:
    """Where a page's meta refresh sends the browser."""
    found = re.search(r'<meta http-equiv="refresh" content="0; url=([^"]+)">', page)
    assert found, page
    return html.unescape(found.group(1))


def provider_answer(url: str) -> httpx.Response:
    """The provider's answer to the browser's visit, as the browser gets it (a redirect not yet followed)."""
    return httpx.get(url)


def parameters(url: str) -> dict[str, str]:
    query = parse_qs(urlsplit(url).query)
    assert all(len(values) == 1 for values in query.values()), query
    return {k: v[0] for k, v in query.items()}


async def test_signing_out_sends_the_browser_to_the_providers_end_session_endpoint_and_back(
    browser: httpx.AsyncClient, served: ServedIssuer, settings: ConsoleSettings
) -> None:
    id_token = await signed_in(browser, served, role="member", member_id=str(MEMBER), name="Li Wei")
    answer = await sign_out(browser)
    assert answer.status_code == 200, answer.text
    assert 'action="/sign-out"' not in answer.text  # the page on the way out shows nobody signed in
    end_session = moves_on_to(answer.text)
    assert end_session.split("?")[0] == f"{served.url}/end-session"
    request = parameters(end_session)
    assert request.keys() == {"id_token_hint", "client_id", "post_logout_redirect_uri", "state"}
    assert request["id_token_hint"] == id_token
    assert verifier_for(settings).id_token_claims(id_token, "console")["sub"] == str(MEMBER)
    assert request["client_id"] == "console"
    assert request["post_logout_redirect_uri"] == SIGNED_OUT
    assert len(request["state"]) >= 32
    cookies = answer.headers.get_list("set-cookie")
    assert any(c.startswith(f'{SESSION_COOKIE}=""') for c in cookies)
    assert any(c.startswith(f'{oidc.ID_TOKEN_COOKIE}=""') and "Path=/sign-out" in c for c in cookies)
    assert browser.cookies.get(oidc.SIGN_OUT_COOKIE, path=oidc.SIGN_IN_PATH) == request["state"]

    back = provider_answer(end_session)
    assert back.status_code == 303, back.text
    assert back.headers["location"] == f"{SIGNED_OUT}?state={request['state']}"
    english = {"Accept-Language": "en"}
    landed = await browser.get(back.headers["location"], headers=english)
    assert "You are signed out, at the identity provider too." in landed.text
    again = await browser.get(back.headers["location"], headers=english)
    assert "You are signed out" not in again.text  # the state is spent
    assert (await browser.get("/")).headers["location"].startswith("/sign-in")


async def test_the_sign_out_comes_back_to_the_public_address_which_the_provider_refuses_unless_registered(
    served: ServedIssuer, settings: ConsoleSettings
) -> None:
    public = settings.model_copy(update={"console_public_url": "https://ipshare.example.org/"})
    async with console_with(public) as browser:
        id_token = await signed_in(browser, served, role="finance")
        end_session = moves_on_to((await sign_out(browser)).text)
    assert parameters(end_session)["post_logout_redirect_uri"] == "https://ipshare.example.org/sign-in"
    refused = provider_answer(end_session)
    assert refused.status_code == 400
    assert "location" not in refused.headers
    assert "not registered" in refused.text
    served.issuer.redirect_uris |= {"https://ipshare.example.org/sign-in"}
    assert provider_answer(end_session).headers["location"].startswith("https://ipshare.example.org/sign-in?state=")
    assert parameters(end_session)["id_token_hint"] == id_token


async def test_without_an_end_session_endpoint_signing_out_clears_the_cookie_alone(
    browser: httpx.AsyncClient, served: ServedIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = {k: v for k, v in served.issuer.discovery().items() if k != "end_session_endpoint"}
    monkeypatch.setattr(served.issuer, "discovery", lambda: document)
    await signed_in(browser, served, role="auditor")
    answer = await sign_out(browser)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in"
    cookies = answer.headers.get_list("set-cookie")
    assert any(c.startswith(f'{SESSION_COOKIE}=""') for c in cookies)
    assert not any(c.startswith(f"{oidc.SIGN_OUT_COOKIE}=") for c in cookies)
    assert (await browser.get("/")).headers["location"].startswith("/sign-in")


async def test_a_sign_out_the_provider_cannot_hear_of_clears_the_cookie_and_says_so(tmp_path: Path) -> None:
    with served_issuer(tmp_path / "gone") as gone:
        settings = ConsoleSettings(oidc_issuer=gone.url, ipshare_dev_mode=True, oidc_client_id="console",
                                   oidc_client_secret=gone.issuer.client_secret)  # fmt: skip
    async with console_with(settings) as browser:
        browser.cookies.set("ipshare_lang", "en")
        answer = await sign_out(browser)
    assert answer.status_code == 503
    assert "the identity provider did not answer" in answer.text
    assert 'action="/sign-out"' not in answer.text
    assert any(c.startswith(f'{SESSION_COOKIE}=""') for c in answer.headers.get_list("set-cookie"))


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', html)
    assert found
    return found.group(1)


async def refused(browser: httpx.AsyncClient, callback: str) -> str:
    """The callback's answer when the sign-in must fail: the sign-in page again, and no session."""
    answer = await browser.get(callback)
    assert answer.status_code == 400, answer.text
    assert not any(c.startswith(f"{SESSION_COOKIE}=") for c in answer.headers.get_list("set-cookie"))
    assert (await browser.get("/")).headers["location"].startswith("/sign-in")
    return answer.text


@pytest.mark.parametrize(
    ("request_change", "person", "reason"),
    [
        ({"state": "planted-by-an-attacker"}, {"role": "finance"}, "state mismatch"),
        ({"nonce": "replayed-nonce"}, {"role": "finance"}, "nonce mismatch"),
        ({}, {"decision": "cancel"}, "access_denied"),
    ],
    ids=["state-of-another-sign-in", "id-token-of-another-nonce", "cancelled-at-the-provider"],
)
async def test_an_answer_that_is_not_this_sign_ins_is_refused(
    browser: httpx.AsyncClient, served: ServedIssuer, request_change: dict[str, str], person: dict[str, str],
    reason: str,
) -> None:  # fmt: skip
    request = await start(browser)
    callback = at_the_issuer(served, {**request, **request_change}, **person)
    assert reason in await refused(browser, callback)


async def test_a_code_redeemed_without_the_attempts_pkce_verifier_is_refused(
    browser: httpx.AsyncClient, served: ServedIssuer, settings: ConsoleSettings
) -> None:
    request = await start(browser)
    callback = at_the_issuer(served, request, role="finance")
    key = oidc.flow_key(settings.csrf_secret)
    attempt = oidc.unseal(key, browser.cookies.get(oidc.FLOW_COOKIE, path=oidc.CALLBACK_PATH))
    other = dataclasses.replace(attempt, verifier="a-verifier-of-another-attempt-" + "x" * 20)
    browser.cookies.set(oidc.FLOW_COOKIE, oidc.seal(key, other), path=oidc.CALLBACK_PATH)
    assert "PKCE code verifier does not match" in await refused(browser, callback)


async def test_a_token_for_another_audience_is_refused(browser: httpx.AsyncClient, served: ServedIssuer) -> None:
    served.issuer.audience = "another-api"  # the provider's access tokens are not for ipshare's APIs
    request = await start(browser)
    assert "audience" in (await refused(browser, at_the_issuer(served, request, role="auditor"))).lower()


async def test_a_callback_without_the_attempts_cookie_or_with_an_altered_one_is_refused(
    browser: httpx.AsyncClient, served: ServedIssuer
) -> None:
    request = await start(browser)
    callback = at_the_issuer(served, request, role="finance")
    sealed = browser.cookies.get(oidc.FLOW_COOKIE, path=oidc.CALLBACK_PATH)
    assert sealed is not None
    browser.cookies.set(oidc.FLOW_COOKIE, sealed[:-1] + ("0" if sealed[-1] != "0" else "1"), path=oidc.CALLBACK_PATH)
    assert "altered" in await refused(browser, callback)
    browser.cookies.clear()
    assert "no sign-in was started" in await refused(browser, callback)


async def test_the_sign_in_page_offers_the_provider_and_the_development_sign_in_only_in_development_mode(
    settings: ConsoleSettings,
) -> None:
    for dev_mode, local_form in ((True, True), (False, False)):
        async with console_with(settings.model_copy(update={"ipshare_dev_mode": dev_mode})) as client:
            page = (await client.get("/sign-in?next=/board")).text
        assert 'href="/sign-in/provider?next=/board"' in page
        assert ('action="/sign-in"' in page) is local_form


def test_the_pkce_challenge_is_rfc_7636s_s256() -> None:
    rfc_7636_appendix_b = ("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    assert pkce_challenge(rfc_7636_appendix_b[0]) == rfc_7636_appendix_b[1]


async def test_a_page_opened_without_a_session_goes_straight_to_the_provider_where_it_is_the_only_way_in(
    settings: ConsoleSettings,
) -> None:
    for local, page, expected in (
        (False, "/periods?x=1", "/sign-in/provider?next=/periods%3Fx%3D1"),
        (True, "/periods", "/sign-in?next=/periods"),  # development: the page offers both
    ):
        async with console_with(settings.model_copy(update={"console_local_sign_in": local})) as client:
            assert (await client.get(page)).headers["location"] == expected
            partial = await client.get(page, headers={"HX-Request": "true"})
            assert partial.headers["location"].startswith("/sign-in?next=")  # htmx cannot follow it off-site
