"""Sign-in (at the identity provider, or locally in development), sign-out, the language switch and each
role's home page."""

from __future__ import annotations

import asyncio
import uuid

from fastapi import APIRouter, Response

from console import csrf, oidc
from console.api import ApiError
from console.i18n import LANGUAGES
from console.session import LANG_COOKIE, SESSION_COOKIE, SIGN_IN_ROLES, Session, open_session
from console.web import Page, PageDep, form_values
from ipshare.auth import Role
from ipshare.identity import IssuerUnavailable

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


@router.get("/sign-in")
async def sign_in_form(page: PageDep, next: str = "") -> Response:
    return _sign_in_page(page, {"next": safe_next(next)})


def _sign_in_page(page: Page, values: dict[str, str], status: int = 200, errors: dict[str, str] | None = None,
                  refused: str = "") -> Response:  # fmt: skip
    return page.render("sign_in.html", status=status, values=values, errors=errors or {}, roles=SIGN_IN_ROLES,
                       enabled=page.settings.local_sign_in, provider=page.settings.provider_sign_in,
                       refused=refused)  # fmt: skip


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
        session = await asyncio.to_thread(oidc.finish, page.settings, attempt, state, code, _redirect_uri(page))
    except (oidc.SignInRefused, IssuerUnavailable) as refusal:
        page.session = None
        response = _sign_in_page(page, {}, status=503 if isinstance(refusal, IssuerUnavailable) else 400,
                                 refused=str(refusal))  # fmt: skip
    else:
        _start(page, session)
        response = page.render("signed_in.html", target=attempt.next or HOMES[session.role])
    response.delete_cookie(oidc.FLOW_COOKIE, path=oidc.CALLBACK_PATH, httponly=True, samesite="lax",
                           secure=page.settings.console_secure_cookies)  # fmt: skip
    return response


def _redirect_uri(page: Page) -> str:
    base = page.settings.console_public_url or str(page.request.base_url)
    return base.rstrip("/") + oidc.CALLBACK_PATH


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
    return page.redirect(safe_next(values.get("next")) or HOMES[session.role])


@router.post("/sign-out")
async def sign_out(page: PageDep) -> Response:
    await page.form()
    page.set_cookies[SESSION_COOKIE] = ""
    page.csrf_nonce = csrf.new_nonce()
    return page.redirect("/sign-in")


@router.post("/language")
async def switch_language(page: PageDep) -> Response:
    form = await page.form()
    chosen = form.get("lang")
    if isinstance(chosen, str) and chosen in LANGUAGES:
        page.set_cookies[LANG_COOKIE] = chosen
    back = form.get("next")
    return page.redirect(safe_next(back if isinstance(back, str) else None) or "/")
