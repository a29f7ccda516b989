"""Signing in to the dashboard in a real chromium: the token goes into a sealed HttpOnly SameSite=Strict cookie and
nowhere else (no URL, no log line, no page), a wrong token is refused, a revoked token's cookie stops working at
the next request, changes through the cookie need the CSRF header, and signing out forgets the session."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from control_plane.db import create_engine
from control_plane.tenants.service import revoke_token
from control_plane.web.session import COOKIE
from tests.browser.conftest import loaded, screenshot, sign_in

pytestmark = pytest.mark.xdist_group("browser")

FETCH = """async ([path, init]) => {
  const response = await fetch(path, init);
  return [response.status, await response.text()];
}"""


def session_cookie(page) -> dict:
    return next(c for c in page.context.cookies() if c["name"] == COOKIE)


def test_signed_out_every_page_sends_you_to_sign_in(page, served):
    for path in ("/", "/dashboard", "/dashboard/ai", "/dashboard/dimension", "/dashboard/budgets",
                 "/dashboard/health", "/dashboard/saved"):  # fmt: skip
        page.goto(served.url + path)
        assert page.url == served.url + "/signin", path
    assert page.is_visible("#token")


def test_the_token_lives_only_in_a_sealed_http_only_cookie(page, served, recorded, artifacts):
    token = served.tokens["Acme"]
    page.goto(served.url + "/signin")
    loaded(page)
    screenshot(page, artifacts, "signin")
    sign_in(page, served)

    cookie = session_cookie(page)
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["secure"], cookie["path"]) == (True, "Strict", False, "/")
    assert token not in cookie["value"]
    assert page.evaluate("document.cookie") == ""  # the page's script cannot read it
    assert token not in page.content()
    assert [url for url in recorded.requests if token in url] == []
    assert token not in served.replica.log()
    page.goto(served.url + "/")
    assert page.url == served.url + "/dashboard"  # signed in, the root opens the overview


def test_a_wrong_token_is_refused(page, served):
    page.goto(served.url + "/signin")
    loaded(page)
    page.fill("#token", "cst_not-a-token")
    page.click("button[type=submit]")

    page.wait_for_selector("#error:not([hidden])")
    assert page.text_content("#error") == "invalid or missing API token"
    assert page.url == served.url + "/signin"
    assert [c for c in page.context.cookies() if c["name"] == COOKIE] == []
    page.goto(served.url + "/dashboard")
    assert page.url == served.url + "/signin"


def test_an_empty_token_is_refused_naming_the_field(page, served):
    status, body = page.goto(served.url + "/signin") and page.evaluate(
        FETCH,
        ["/signin", {"method": "POST", "body": '{"token": " "}',
                     "headers": {"Content-Type": "application/json", "X-Costory-Csrf": "1"}}],
    )  # fmt: skip
    assert (status, body) == (
        400,
        '{"detail":[{"loc":["token"],"msg":"`token`: paste the tenant\'s API token.","type":"Empty Value"}]}',
    )


def test_a_revoked_tokens_cookie_stops_working(page, served):
    sign_in(page, served, "Gone")
    status, _ = page.evaluate(FETCH, ["/v1/virtual-dimensions", {}])
    assert status == 200
    engine = create_engine(served.database_url)
    with Session(engine) as session, session.begin():
        revoke_token(session, "Gone")
    engine.dispose()

    status, body = page.evaluate(FETCH, ["/v1/virtual-dimensions", {}])
    assert status == 401
    assert "this API token was revoked on" in body
    page.goto(served.url + "/dashboard")
    assert page.url == served.url + "/signin"
    assert [c for c in page.context.cookies() if c["name"] == COOKIE] == []  # the page load cleared it


def test_changes_through_the_cookie_need_the_csrf_header(page, served):
    sign_in(page, served)
    headers = {"Content-Type": "application/json"}
    init = {"method": "POST", "body": '{"query": {"preset": "LAST_7_DAYS"}}', "headers": headers}
    status, body = page.evaluate(FETCH, ["/v1/costs:query", init])
    assert status == 401
    assert "must send the header `X-Costory-Csrf: 1`" in body

    headers["X-Costory-Csrf"] = "1"
    status, _ = page.evaluate(FETCH, ["/v1/costs:query", init])
    assert status == 200


def test_a_tampered_cookie_is_refused(page, served):
    sign_in(page, served)
    cookie = session_cookie(page)
    page.context.add_cookies([{**cookie, "value": cookie["value"][:-6] + "AAAAAA"}])

    status, body = page.evaluate(FETCH, ["/v1/virtual-dimensions", {}])
    assert (status, body) == (
        401,
        '{"detail":"the dashboard session has expired or is not valid here; sign in again at /signin"}',
    )


def test_signing_out_forgets_the_session(page, served):
    sign_in(page, served)
    page.click("#signout")
    page.wait_for_url(served.url + "/signin")

    assert [c for c in page.context.cookies() if c["name"] == COOKIE] == []
    page.goto(served.url + "/dashboard")
    assert page.url == served.url + "/signin"


def test_pages_allow_this_origin_only_and_serve_only_packaged_files(page, served):
    response = page.goto(served.url + "/signin")
    headers = response.headers
    assert headers["content-security-policy"].startswith("default-src 'self'; script-src 'self'; style-src 'self'")
    assert (headers["x-frame-options"], headers["referrer-policy"], headers["cache-control"]) == (
        "DENY",
        "no-referrer",
        "no-store",
    )
    chart = page.request.get(served.url + "/static/chart.umd.js")
    assert (chart.status, chart.headers["content-type"]) == (200, "text/javascript; charset=utf-8")
    assert chart.text().startswith("/*!\n * Chart.js v4.6.1")
    for name, detail in (
        ("nothing.js", "no static file 'nothing.js'"),
        ("page.html", "no static file 'page.html'"),  # a template, not a static file
        ("..%2Fsession.py", "Not Found"),  # no route: a name never holds a path
    ):
        missing = page.request.get(served.url + f"/static/{name}")
        assert (missing.status, missing.json()) == (404, {"detail": detail})
