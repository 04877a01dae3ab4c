"""Sign-in (at the identity provider, or locally in development), sign-out, the language switch and each
role's home page."""

from __future__ import annotations

import asyncio
import secrets
import uuid

from fastapi import APIRouter, Response

from console import csrf, oidc
from console.api import ApiError
from console.i18n import LANGUAGES
from console.session import LANG_COOKIE, SESSION_COOKIE, SIGN_IN_ROLES, Session, open_session
from console.web import Page, PageDep, form_values
from ipshare.auth import Role
from ipshare.identity import IssuerUnavailable
from ipshare.observability import log

router = APIRouter()

HOMES = {
    Role.MEMBER: "/portfolio",
    Role.FINANCE: "/periods",
    Role.INCUBATOR: "/board",
    Role.AUDITOR: "/audit",
    Role.ADMIN: "/periods",
}


def safe_next(target: str | None) -> str:
    """Only a path of this console: a sign-in link must not send anyone elsewhere."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return ""


@router.get("/")
async def home(page: PageDep) -> Response:
    return page.redirect(HOMES.get(page.user.role, "/audit"))


@router.get(oidc.SIGN_IN_PATH)
async def sign_in_form(page: PageDep, next: str = "", state: str = "") -> Response:
    """The sign-in page; also where the provider sends the browser back after a sign-out (with its state)."""
    expected = page.request.cookies.get(oidc.SIGN_OUT_COOKIE)
    if not (state and expected and secrets.compare_digest(state.encode(), expected.encode())):
        return _sign_in_page(page, {"next": safe_next(next)})
    response = _sign_in_page(page, {}, notice=page.t("You are signed out, at the identity provider too."))
    response.delete_cookie(oidc.SIGN_OUT_COOKIE, path=oidc.SIGN_IN_PATH, httponly=True, samesite="lax",
                           secure=page.settings.console_secure_cookies)  # fmt: skip
    return response


def _sign_in_page(page: Page, values: dict[str, str], status: int = 200, errors: dict[str, str] | None = None,
                  refused: str = "", notice: str = "") -> Response:  # fmt: skip
    return page.render("sign_in.html", status=status, values=values, errors=errors or {}, roles=SIGN_IN_ROLES,
                       enabled=page.settings.local_sign_in, provider=page.settings.provider_sign_in,
                       refused=refused, notice=notice)  # fmt: skip


@router.get("/sign-in/provider")
async def sign_in_at_provider(page: PageDep, next: str = "") -> Response:
    """Off to the provider's authorization endpoint, this attempt's state, nonce and verifier in a cookie."""
    attempt = oidc.SignInAttempt.new(safe_next(next))
    settings = page.settings
    try:
        if not settings.provider_sign_in:
            raise oidc.SignInRefused(page.t("The console is no client of an identity provider here."))
        url = await asyncio.to_thread(oidc.authorization_url, settings, attempt, _redirect_uri(page),
                                      settings.console_oidc_scope)  # fmt: skip
    except (oidc.SignInRefused, IssuerUnavailable) as refusal:
        return _sign_in_page(page, {"next": attempt.next}, status=503, refused=str(refusal))
    response = page.redirect(url)
    # Lax, not Strict: the browser must send it on the provider's redirect back, a cross-site navigation.
    response.set_cookie(oidc.FLOW_COOKIE, oidc.seal(page.flow_key, attempt), max_age=oidc.FLOW_SECONDS,
                        path=oidc.CALLBACK_PATH, httponly=True, samesite="lax",
                        secure=settings.console_secure_cookies)  # fmt: skip
    return response


@router.get(oidc.CALLBACK_PATH)
async def signed_in_at_provider(page: PageDep, state: str = "", code: str = "", error: str = "",
                                error_description: str = "") -> Response:  # fmt: skip
    """The provider's answer: a session once state, code and tokens check out, else nobody is signed in."""
    try:
        attempt = oidc.unseal(page.flow_key, page.request.cookies.get(oidc.FLOW_COOKIE))
        if error:
            raise oidc.SignInRefused(f"{error}: {error_description}" if error_description else error)
        signed_in = await asyncio.to_thread(oidc.finish, page.settings, attempt, state, code, _redirect_uri(page))
    except (oidc.SignInRefused, IssuerUnavailable) as refusal:
        page.session = None
        response = _sign_in_page(page, {}, status=503 if isinstance(refusal, IssuerUnavailable) else 400,
                                 refused=str(refusal))  # fmt: skip
    else:
        _start(page, signed_in.session)
        response = page.render("signed_in.html", target=attempt.next or HOMES[signed_in.session.role])
        # Strict: only the console's own sign-out form sends it, and to nowhere else.
        response.set_cookie(oidc.ID_TOKEN_COOKIE, signed_in.id_token, max_age=page.settings.jwt_ttl_seconds,
                            path=oidc.SIGN_OUT_PATH, httponly=True, samesite="strict",
                            secure=page.settings.console_secure_cookies)  # fmt: skip
    response.delete_cookie(oidc.FLOW_COOKIE, path=oidc.CALLBACK_PATH, httponly=True, samesite="lax",
                           secure=page.settings.console_secure_cookies)  # fmt: skip
    return response


def _redirect_uri(page: Page) -> str:
    return _public_url(page, oidc.CALLBACK_PATH)


def _public_url(page: Page, path: str) -> str:
    base = page.settings.console_public_url or str(page.request.base_url)
    return base.rstrip("/") + path


def _start(page: Page, session: Session) -> None:
    page.session = session
    page.set_cookies[SESSION_COOKIE] = session.token
    page.csrf_nonce = csrf.new_nonce()  # a token seen before the sign-in is worthless after it


@router.post("/sign-in")
async def sign_in(page: PageDep) -> Response:
    form = await page.form()
    values = form_values(form)
    errors: dict[str, str] = {}
    role = values.get("role", "")
    member_id: uuid.UUID | None = None
    if not page.settings.local_sign_in:
        errors["role"] = page.t("The local sign-in is turned off here.")
    elif role not in {r.value for r in SIGN_IN_ROLES}:
        errors["role"] = page.t("Choose a role.")
    elif Role(role) is Role.MEMBER:
        try:
            member_id = uuid.UUID(values.get("member_id", "").strip())
        except ValueError:
            errors["member_id"] = page.t("Enter the member's id (a UUID), as the registry gave it.")
    if not errors:
        # A call to the issuer's token endpoint: off the event loop.
        session = await asyncio.to_thread(open_session, page.settings, Role(role), member_id)
        if member_id is not None:
            page.session = session
            try:
                await page.api.get("ip-registry", f"/members/{member_id}")
            except ApiError as error:
                errors["member_id"] = page.t("No such member: {message}", message=error.message)
    if errors:
        page.session = None
        return _sign_in_page(page, values, status=422, errors=errors)
    _start(page, session)
    response = page.redirect(safe_next(values.get("next")) or HOMES[session.role])
    _forget_id_token(page, response)  # one of an earlier sign-in at the provider names another session
    return response


@router.post(oidc.SIGN_OUT_PATH)
async def sign_out(page: PageDep) -> Response:
    """The console's session ends here; the provider's too where it offers an end-session endpoint."""
    await page.form()
    page.session = None  # the pages shown on the way out show nobody signed in
    page.set_cookies[SESSION_COOKIE] = ""
    page.csrf_nonce = csrf.new_nonce()
    state = secrets.token_urlsafe(32)
    try:
        at_provider = await asyncio.to_thread(_end_session_url, page, state)
    except IssuerUnavailable as exc:
        log.warning("console_sign_out_provider_unavailable", error=str(exc))
        reason = page.t("signed out here; the identity provider did not answer, so close the browser if it is shared")
        response = _sign_in_page(page, {}, status=503, refused=reason)
    else:
        if not at_provider:
            response = page.redirect(oidc.SIGN_IN_PATH)
        else:
            # A page that moves on, not a redirect: the content security policy's form-action 'self'
            # would stop this form's submission from being redirected to the provider.
            response = page.render("signing_out.html", target=at_provider)
            response.set_cookie(oidc.SIGN_OUT_COOKIE, state, max_age=oidc.FLOW_SECONDS, path=oidc.SIGN_IN_PATH,
                                httponly=True, samesite="lax",  # Lax: it comes back with the provider's redirect
                                secure=page.settings.console_secure_cookies)  # fmt: skip
    _forget_id_token(page, response)
    return response


def _end_session_url(page: Page, state: str) -> str:
    if not page.settings.provider_sign_in:
        return ""
    id_token = page.request.cookies.get(oidc.ID_TOKEN_COOKIE)
    return oidc.end_session_url(page.settings, id_token, _public_url(page, oidc.SIGN_IN_PATH), state)


def _forget_id_token(page: Page, response: Response) -> None:
    # Deleted unseen: the browser sends the cookie to the sign-out alone.
    response.delete_cookie(oidc.ID_TOKEN_COOKIE, path=oidc.SIGN_OUT_PATH, httponly=True, samesite="strict",
                           secure=page.settings.console_secure_cookies)  # fmt: skip


@router.post("/language")
async def switch_language(page: PageDep) -> Response:
    form = await page.form()
    chosen = form.get("lang")
    if isinstance(chosen, str) and chosen in LANGUAGES:
        page.set_cookies[LANG_COOKIE] = chosen
    back = form.get("next")
    return page.redirect(safe_next(back if isinstance(back, str) else None) or "/")
