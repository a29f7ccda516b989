"""The dashboard's session cookie: the tenant's API token sealed with the control plane's secret key (the box
datasource secrets use) together with an expiry. The token itself is checked on every request like a bearer
token, so revoking or rotating it ends every session at once; the cookie only spares the browser from holding
the token in script-readable storage.

The cookie is HttpOnly and SameSite=Strict; requests that change state through it must also carry
``X-Costory-Csrf: 1``, a header a cross-site form cannot send.
"""

from __future__ import annotations

import json
import time

from fastapi import Request, Response

from control_plane.errors import Unauthenticated
from control_plane.imports.errors import TerminalImportError
from control_plane.secrets import secret_box
from control_plane.settings import Settings

COOKIE = "costory_session"
CSRF_HEADER = "x-costory-csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def seal(settings: Settings, token: str, now: float | None = None) -> str:
    """The cookie's value for ``token``: sealed, expiring ``session_hours`` from ``now``."""
    expires = (time.time() if now is None else now) + settings.session_hours * 3600
    return secret_box(settings).seal(json.dumps({"token": token, "expires": expires}))


def unseal(settings: Settings, value: str, now: float | None = None) -> str | None:
    """The token in a cookie's value; None when it was not sealed here (another key, tampered) or has expired."""
    try:
        payload = json.loads(secret_box(settings).open(value, "session cookie"))
    except (TerminalImportError, ValueError):
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("token"), str):
        return None
    expires = payload.get("expires")
    if not isinstance(expires, int | float) or expires <= (time.time() if now is None else now):
        return None
    return payload["token"]


def cookie_token(request: Request, settings: Settings) -> str | None:
    """The token of the request's session cookie, for the pages' own calls to the API; None without a cookie.

    A cookie that no longer opens is refused rather than ignored, so the page can tell the user to sign in
    again; a state-changing request without the CSRF header is refused whatever its cookie holds."""
    value = request.cookies.get(COOKIE)
    if not value:
        return None
    if request.method not in SAFE_METHODS and request.headers.get(CSRF_HEADER) != "1":
        raise Unauthenticated(
            "a request that changes state through the dashboard's session cookie must send the header "
            "`X-Costory-Csrf: 1` (API clients send `Authorization: Bearer <token>` instead)"
        )
    token = unseal(settings, value)
    if token is None:
        raise Unauthenticated("the dashboard session has expired or is not valid here; sign in again at /signin")
    return token


def set_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(
        COOKIE,
        seal(settings, token),
        max_age=int(settings.session_hours * 3600),
        path="/",
        httponly=True,
        samesite="strict",
        secure=settings.session_cookie_secure,
    )


def clear_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=settings.session_cookie_secure)
