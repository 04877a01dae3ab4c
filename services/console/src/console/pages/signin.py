"""Sign-in, sign-out, the language switch and each role's home page."""

from __future__ import annotations

import asyncio
import uuid

from fastapi import APIRouter, Response

from console import csrf
from console.api import ApiError
from console.i18n import LANGUAGES
from console.session import LANG_COOKIE, SESSION_COOKIE, SIGN_IN_ROLES, open_session
from console.web import PageDep, form_values
from ipshare.auth import Role

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
    return page.render("sign_in.html", values={"next": safe_next(next)}, errors={}, roles=SIGN_IN_ROLES,
                       enabled=page.settings.local_sign_in)  # fmt: skip


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
        return page.render("sign_in.html", status=422, values=values, errors=errors, roles=SIGN_IN_ROLES,
                           enabled=page.settings.local_sign_in)  # fmt: skip
    page.set_cookies[SESSION_COOKIE] = session.token
    page.csrf_nonce = csrf.new_nonce()  # a token seen before the sign-in is worthless after it
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
