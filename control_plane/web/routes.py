"""The web dashboard: sign-in, the pages and their static files, served by the REST app in the same process.

Pages are static HTML plus the dashboard's own script; everything they show comes from the JSON API, called by
the script with the session cookie (control_plane.web.session), so a page shows exactly what the API answers.
Nothing is loaded from another host: the chart code is vendored (static/vendor/VENDOR.md) and the Content
Security Policy allows this origin only.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel

from control_plane.errors import InvalidArgument, NotFound, Unauthenticated
from control_plane.rest.dependencies import ServicesDep, SessionDep
from control_plane.tenants.service import TokenCache
from control_plane.web.session import COOKIE, CSRF_HEADER, clear_cookie, cookie_token, set_cookie
from costory_schema.problems import Problem

HERE = Path(__file__).parent
STATIC = HERE / "static"

router = APIRouter(include_in_schema=False)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Page:
    path: str
    key: str
    title: str


PAGES = (
    Page("/dashboard", "overview", "Overview"),
    Page("/dashboard/ai", "ai", "AI spend"),
    Page("/dashboard/dimension", "dimension", "Dimension"),
    Page("/dashboard/budgets", "budgets", "Budgets"),
    Page("/dashboard/health", "health", "Data health"),
    Page("/dashboard/saved", "saved", "Saved dashboards"),
)

STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".md": "text/markdown"}


@lru_cache(maxsize=1)
def _template() -> str:
    return (HERE / "templates" / "page.html").read_text()


def _render(page: Page | None, title: str, body_class: str) -> HTMLResponse:
    current = ' aria-current="page"'
    nav = "".join(f'<a href="{p.path}"{current if p is page else ""}>{html.escape(p.title)}</a>' for p in PAGES)
    text = (
        _template()
        .replace("{{title}}", html.escape(title))
        .replace("{{page}}", page.key if page else "signin")
        .replace("{{body_class}}", body_class)
        .replace("{{nav}}", nav if page else "")
    )
    return HTMLResponse(text, headers=SECURITY_HEADERS)


def _signed_in(request: Request, services: ServicesDep, session: SessionDep) -> bool:
    """Whether the request's cookie holds a token that authenticates now (checked on every page load)."""
    try:
        token = cookie_token(request, services.settings)
        if token is None:
            return False
        tokens: TokenCache = request.app.state.tokens
        tokens.authenticate(session, token)
    except Unauthenticated:
        return False
    return True


def _to_signin(services: ServicesDep) -> RedirectResponse:
    response = RedirectResponse("/signin", status_code=303, headers={"Cache-Control": "no-store"})
    clear_cookie(response, services.settings)
    return response


@router.get("/")
def root(request: Request, services: ServicesDep, s: SessionDep) -> Response:
    target = "/dashboard" if _signed_in(request, services, s) else "/signin"
    return RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})


@router.get("/signin")
def signin_page() -> Response:
    return _render(None, "Sign in", "signin")


class SignIn(BaseModel):
    token: str = ""


@router.post("/signin")
async def signin(request: Request, body: SignIn, services: ServicesDep, s: SessionDep) -> Response:
    """Check the token as the API does and hand the browser a sealed session cookie holding it. JSON with the
    CSRF header (sent by the sign-in page's script), so another site cannot sign a browser in."""
    if request.headers.get(CSRF_HEADER) != "1":
        raise Unauthenticated("sign in from the dashboard's sign-in page (the request lacks `X-Costory-Csrf: 1`)")
    token = body.token.strip()
    if not token:
        raise InvalidArgument([Problem(("token",), "Empty Value", "`token`: paste the tenant's API token.")])
    tokens: TokenCache = request.app.state.tokens
    await anyio.to_thread.run_sync(tokens.authenticate, s, token)
    response = JSONResponse({"next": "/dashboard"}, headers={"Cache-Control": "no-store"})
    set_cookie(response, services.settings, token)
    return response


@router.post("/signout")
def signout(request: Request, services: ServicesDep) -> Response:
    if request.headers.get(CSRF_HEADER) != "1":
        raise Unauthenticated("sign out from the dashboard (the request lacks `X-Costory-Csrf: 1`)")
    response = JSONResponse({"next": "/signin"}, headers={"Cache-Control": "no-store"})
    clear_cookie(response, services.settings)
    return response


def _page_route(page: Page) -> None:
    def show(request: Request, services: ServicesDep, s: SessionDep) -> Response:
        if not _signed_in(request, services, s):
            return _to_signin(services)
        return _render(page, page.title, "page")

    show.__name__ = f"page_{page.key}"
    router.add_api_route(page.path, show, methods=["GET"])


for _page in PAGES:
    _page_route(_page)


@router.get("/static/{name}")
def static(name: str) -> Response:
    """The dashboard's script, stylesheet and vendored chart code; only files that ship with the package."""
    path = _static_files().get(name)
    if path is None:
        raise NotFound(f"no static file {name!r}")
    return FileResponse(
        path,
        media_type=STATIC_TYPES[path.suffix] + "; charset=utf-8",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
    )


@lru_cache(maxsize=1)
def _static_files() -> dict[str, Path]:
    """name -> file: the package's static files and its vendored ones, by name alone (no path is ever joined
    from a request)."""
    files = [*STATIC.iterdir(), *(STATIC / "vendor").iterdir()]
    return {f.name: f for f in files if f.is_file() and f.suffix in STATIC_TYPES}


__all__ = ["COOKIE", "PAGES", "router"]
