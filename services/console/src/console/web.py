"""The console's FastAPI app: sessions, CSRF, language, rendering, and the pages of each user."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import httpx
from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData

from console import charts, csrf, formatting, oidc
from console.api import ApiError, ServiceClient
from console.i18n import LANGUAGES, Translator, pick_language
from console.session import LANG_COOKIE, SESSION_COOKIE, Session, resume_session
from console.settings import ConsoleSettings
from ipshare.observability import log_access
from ipshare.tracing import send_trace_context, trace_requests
from ipshare.web import route_template

HERE = Path(__file__).parent
SECURITY_HEADERS = {
    # Everything comes from the console itself: no inline script, no CDN, no framing.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class SignInRequired(Exception):
    """No valid session: the page sends the browser to the sign-in."""


@dataclass
class Page:
    """What a request's handler needs: the user, their language, their API client and a renderer."""

    request: Request
    settings: ConsoleSettings
    lang: str
    session: Session | None
    csrf_nonce: str
    csrf_key: bytes
    http: httpx.AsyncClient
    set_cookies: dict[str, str] = field(default_factory=dict)

    @property
    def t(self) -> Translator:
        return Translator(self.lang)

    @property
    def user(self) -> Session:
        if self.session is None:
            raise SignInRequired
        return self.session

    @property
    def api(self) -> ServiceClient:
        return ServiceClient(self.http, self.settings.service_urls(), self.user.token)

    @property
    def flow_key(self) -> bytes:
        """The key of the cookie a sign-in at the identity provider keeps its state in."""
        return oidc.flow_key(self.settings.csrf_secret)

    @property
    def csrf_token(self) -> str:
        return csrf.token_for(self.csrf_key, self.csrf_nonce)

    async def form(self) -> FormData:
        """The posted form, after its CSRF token is checked (every POST comes through here)."""
        form = await self.request.form()
        submitted = form.get(csrf.FIELD) or self.request.headers.get(csrf.HEADER)
        csrf.check(
            self.csrf_key,
            self.request.cookies.get(csrf.NONCE_COOKIE),
            submitted if isinstance(submitted, str) else None,
        )
        return form

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        html = templates().get_template(template).render(page=self, **helpers(self), **context)
        return self.finish(HTMLResponse(html, status_code=status))

    def redirect(self, url: str) -> Response:
        return self.finish(RedirectResponse(url, status_code=303))

    def finish(self, response: Response) -> Response:
        secure = self.settings.console_secure_cookies
        if self.request.cookies.get(csrf.NONCE_COOKIE) != self.csrf_nonce:
            response.set_cookie(csrf.NONCE_COOKIE, self.csrf_nonce, httponly=True, samesite="strict", secure=secure)
        for name, value in self.set_cookies.items():
            if value:
                response.set_cookie(
                    name,
                    value,
                    httponly=True,
                    samesite="strict",
                    secure=secure,
                    max_age=self.settings.jwt_ttl_seconds if name == SESSION_COOKIE else 365 * 86400,
                )
            else:
                response.delete_cookie(name, httponly=True, samesite="strict", secure=secure)
        return response


_templates: Environment | None = None


def templates() -> Environment:
    global _templates
    if _templates is None:
        _templates = Environment(
            loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html", "svg"]),
            trim_blocks=True, lstrip_blocks=True,
        )  # fmt: skip
    return _templates


def helpers(page: Page) -> dict[str, Any]:
    """The formatters templates use, bound to the page's language and time zone."""
    lang = page.lang
    return {
        "_": page.t,
        "lang": lang,
        "languages": LANGUAGES,
        "money": lambda minor, currency: formatting.money(int(minor), currency, lang),
        "count": lambda value: formatting.count(int(value), lang),
        "bps": lambda value: formatting.basis_points(int(value), lang),
        "day": lambda value: formatting.business_date(value, lang),
        "moment": lambda value: formatting.timestamp(value, page.settings.console_time_zone, lang),
        "charts": charts,
        "quote": quote,
        "new_key": lambda: str(uuid.uuid4()),
    }


def page_dependency(request: Request) -> Page:
    app_state = request.app.state
    nonce = request.cookies.get(csrf.NONCE_COOKIE) or csrf.new_nonce()
    return Page(
        request=request,
        settings=app_state.settings,
        lang=pick_language(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language", "")),
        session=resume_session(app_state.settings, request.cookies.get(SESSION_COOKIE)),
        csrf_nonce=nonce,
        csrf_key=app_state.csrf_key,
        http=app_state.http,
    )


PageDep = Annotated[Page, Depends(page_dependency)]


def form_values(form: FormData) -> dict[str, str]:
    """What the user typed, to show again after an error (the CSRF token is rendered anew)."""
    return {k: v for k, v in form.items() if isinstance(v, str) and k != csrf.FIELD}


def corrected(values: dict[str, str]) -> dict[str, str]:
    """The typed values for the form shown again after a refusal: the service kept the refused request
    under its idempotency key, so the corrected one goes with a new key."""
    return values | {"idempotency_key": str(uuid.uuid4())}


def create_app(settings: ConsoleSettings | None = None, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    from console.pages import auditor, finance, incubator, member, signin

    settings = settings or ConsoleSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hooks = {"request": [send_trace_context]}  # the services' spans continue the page's trace
        async with httpx.AsyncClient(timeout=settings.console_api_timeout_seconds, transport=transport,
                                     event_hooks=hooks) as http:  # fmt: skip
            app.state.http = http
            yield

    app = FastAPI(title="ipshare console", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.csrf_key = csrf.derive_key(settings.csrf_secret)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (signin, member, finance, incubator, auditor):
        app.include_router(module.router)
    app.add_exception_handler(SignInRequired, _to_sign_in)
    app.add_exception_handler(csrf.CsrfError, _csrf_refused)
    app.add_exception_handler(ApiError, _api_error_page)

    trace_requests(app, "/healthz,/static/")

    @app.middleware("http")
    async def secure_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        log_access(request, response.status_code, route_template(request), time.perf_counter() - started)
        response.headers.update(SECURITY_HEADERS)
        if request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "public, max-age=3600"
        else:
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Mapping[str, str]:
        return {"status": "ok"}

    return app


async def _to_sign_in(request: Request, _: Exception) -> Response:
    """To the sign-in, then back. Where the provider is the only way in, a page opened without a session
    (an expired access token, say) goes straight there: its own session signs the person in again
    without a click. A form post or an htmx request shows the sign-in page instead."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    settings: ConsoleSettings = request.app.state.settings
    straight = settings.provider_sign_in and not settings.local_sign_in and request.method == "GET"
    start = "/sign-in/provider" if straight and "HX-Request" not in request.headers else "/sign-in"
    return RedirectResponse(f"{start}?next={quote(target)}", status_code=303)


async def _csrf_refused(request: Request, exc: Exception) -> Response:
    page = page_dependency(request)
    return page.render("error.html", status=403, title=page.t("Request refused"), message=page.t(str(exc)))


async def _api_error_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if exc.status == 401:
        return await _to_sign_in(request, exc)
    page = page_dependency(request)
    title = page.t("Not allowed for your role") if exc.status == 403 else page.t("The service answered with an error")
    return page.render("error.html", status=exc.status if exc.status >= 400 else 502, title=title, error=exc)
