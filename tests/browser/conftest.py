"""The dashboard in a real headless chromium (Debian's, `make chromium`) driven by Playwright, against
`costory-control-plane serve` on loopback ports of its own, with the sample tenant of `make demo SERVE=1`.

Every page a test opens records the requests it makes; the page fixture fails the test if one went anywhere but
127.0.0.1. Screenshots go to `$COSTORY_TEST_ARTIFACTS` or a directory under pytest's tmp path (printed).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from control_plane.db import create_engine, create_sessionmaker, migrate
from control_plane.tenants.service import create_tenant
from devtools.demo import seed_dashboard, seed_rows
from devtools.replicas import Replica, start_replica

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Served:
    """A running control plane, its database and the tenants made for the tests."""

    replica: Replica
    database_url: str
    data_dir: Path
    tokens: dict[str, str]
    team_id: str

    @property
    def url(self) -> str:
        return self.replica.rest_url

    def api(self, tenant: str = "Acme") -> httpx.Client:
        """The JSON API as a program reads it: with the tenant's bearer token, no cookie."""
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.tokens[tenant]}"}, timeout=60)


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    """`serve` over a SQLite file holding tenant Acme (the sample bill and its `team` dimension), tenant Budgeted
    (cost on the first day of the current month, for budget status, which reads the period holding today) and
    tenant Gone (whose token a test revokes). The token cache is off so a revoked token is refused at the next
    request."""
    root = tmp_path_factory.mktemp("dashboard")
    database_url = f"sqlite:///{root / 'costory.db'}"
    migrate(database_url)
    engine = create_engine(database_url)
    sessions = create_sessionmaker(engine)
    tokens = {}
    with sessions.begin() as session:
        acme, tokens["Acme"] = create_tenant(session, "Acme")
        budgeted, tokens["Budgeted"] = create_tenant(session, "Budgeted")
        _gone, tokens["Gone"] = create_tenant(session, "Gone")
        acme_id, budgeted_id = acme.id, budgeted.id
    team_id = seed_dashboard(sessions, root / "data", acme_id)
    seed_rows(sessions, root / "data", budgeted_id, this_months_rows(), "bds_current")
    engine.dispose()
    replica = start_replica(
        "dashboard",
        root,
        {
            "COSTORY_DATABASE_URL": database_url,
            "COSTORY_TRUST_VALIDATION": "skip",
            "COSTORY_SCHEDULER_ENABLED": "false",
            "COSTORY_TOKEN_CACHE_SECONDS": "0",
        },
    )
    try:
        yield Served(replica, database_url, root / "data", tokens, team_id)
    finally:
        replica.stop()


def this_months_rows() -> list[tuple]:
    """The current UTC month's first day: 7.00 of Anthropic and 5.00 of OpenAI tokens, 100.00 of EC2."""
    first = datetime.now(UTC).date().replace(day=1).isoformat()
    return [
        (first, "Anthropic", "Claude", "team-search", "claude-sonnet-4", "input", 1_000_000, "7.00"),
        (first, "OpenAI", "OpenAI API", "team-search", "gpt-4.1", "input", 1_000_000, "5.00"),
        (first, "AWS", "Amazon EC2", "team-payments", None, None, None, "100.00"),
    ]


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory) -> Path:
    configured = os.environ.get("COSTORY_TEST_ARTIFACTS")
    directory = Path(configured) if configured else tmp_path_factory.mktemp("browser-artifacts")
    directory.mkdir(parents=True, exist_ok=True)
    print(f"\nbrowser screenshots: {directory}")
    return directory


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail("chromium is missing at /usr/bin/chromium: run `make chromium`", pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Recorded:
    """What a page did: every request's URL, and what its console said at error level."""

    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)


@pytest.fixture
def recorded() -> Recorded:
    return Recorded()


@pytest.fixture
def page(browser, recorded, served) -> Iterator:
    """A fresh browser context (no cookies) and page; afterwards, no request may have left 127.0.0.1 and the
    console must hold no error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    tab.on("request", lambda request: recorded.requests.append(request.url))
    tab.on("console", lambda m: recorded.console_errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda error: recorded.console_errors.append(str(error)))
    yield tab
    context.close()
    off_loopback = [u for u in recorded.requests if urlparse(u).hostname != "127.0.0.1" and not u.startswith("data:")]
    assert off_loopback == [], f"requests left loopback: {off_loopback}"
    assert recorded.requests, "the page made no request at all"
    # A refused call (a test's wrong token) logs "Failed to load resource"; anything else (a script error, a
    # Content-Security-Policy refusal) is a bug.
    assert [e for e in recorded.console_errors if not e.startswith("Failed to load resource")] == []


def sign_in(tab, served: Served, tenant: str = "Acme") -> None:
    """Sign in as a person does: open /, land on the sign-in form, paste the token, submit."""
    tab.goto(served.url + "/")
    tab.wait_for_url(served.url + "/signin")
    tab.fill("#token", served.tokens[tenant])
    tab.click("button[type=submit]")
    tab.wait_for_url(served.url + "/dashboard")
    loaded(tab)


def loaded(tab) -> None:
    """Wait until the page's script has shown everything it reads from the API."""
    tab.wait_for_selector("#content[aria-busy=false]")


def screenshot(tab, artifacts: Path, name: str) -> Path:
    path = artifacts / f"{name}.png"
    tab.screenshot(path=str(path), full_page=True)
    return path


def publish_screenshot(path: Path) -> None:
    """The README's picture of the dashboard, refreshed by the test run."""
    target = REPO / "docs" / "images" / "dashboard.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, target)
