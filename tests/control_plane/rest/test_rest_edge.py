"""Around every REST route: the token cache (one lookup per token per `token_cache_seconds`, revocation and
rotation effective within that time) and admission's bounded wait, on a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import http.client
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from control_plane.admission import Admission
from control_plane.dimensions import service as dimensions
from control_plane.errors import Unauthenticated
from control_plane.models import Tenant
from control_plane.rest.app import create_app
from control_plane.server import bind_http, start_http
from control_plane.services import build_services
from control_plane.settings import Settings
from control_plane.tenants.service import TokenCache, create_tenant, revoke_token, rotate_token

TTL = 2.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def statements(sessions):
    """Every SQL statement the sessions' engine runs, in order."""
    seen: list[str] = []
    engine = sessions.kw["bind"]

    def record(_conn, _cursor, statement, *_args):
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def acme(sessions) -> tuple[str, str]:
    with sessions.begin() as session:
        tenant, token = create_tenant(session, "Acme")
        return tenant.id, token


class TestTokenCache:
    def test_a_remembered_token_needs_no_query(self, sessions, statements, acme):
        tenant_id, token = acme
        cache = TokenCache(TTL, Clock())
        with sessions.begin() as session:
            first = cache.authenticate(session, token)
            assert first.id == tenant_id
        looked_up = len(statements)
        with sessions.begin() as session:
            again = cache.authenticate(session, token)
            assert (again.id, again.name, again.revoked_at) == (tenant_id, "Acme", None)
            assert session.get(Tenant, tenant_id) is again  # attached: the session knows it without a query
        assert looked_up >= 1
        assert len(statements) == looked_up

    def test_revocation_takes_effect_once_the_entry_expires(self, sessions, acme):
        tenant_id, token = acme
        clock = Clock()
        cache = TokenCache(TTL, clock)
        with sessions.begin() as session:
            cache.authenticate(session, token)
        with sessions.begin() as session:
            revoke_token(session, "Acme")
        clock.now += TTL - 0.01
        with sessions.begin() as session:
            assert cache.authenticate(session, token).id == tenant_id  # within the documented bound
        clock.now += 0.01
        with sessions.begin() as session, pytest.raises(Unauthenticated) as refused:
            cache.authenticate(session, token)
        assert "this API token was revoked on" in str(refused.value)

    def test_rotation_the_new_token_works_at_once_the_old_one_stops_within_the_ttl(self, sessions, acme):
        tenant_id, old = acme
        clock = Clock()
        cache = TokenCache(TTL, clock)
        with sessions.begin() as session:
            cache.authenticate(session, old)
        with sessions.begin() as session:
            _, new = rotate_token(session, "Acme")
        with sessions.begin() as session:
            assert cache.authenticate(session, new).id == tenant_id
        clock.now += TTL
        with sessions.begin() as session, pytest.raises(Unauthenticated, match="invalid or missing API token"):
            cache.authenticate(session, old)

    def test_refused_tokens_are_never_remembered(self, sessions, statements, acme):
        cache = TokenCache(TTL, Clock())
        for _ in range(2):
            before = len(statements)
            with sessions.begin() as session, pytest.raises(Unauthenticated):
                cache.authenticate(session, "cst_not-a-token")
            assert len(statements) > before  # looked up again each time

    def test_ttl_zero_looks_up_every_time(self, sessions, statements, acme):
        _, token = acme
        cache = TokenCache(0, Clock())
        counts = []
        for _ in range(2):
            before = len(statements)
            with sessions.begin() as session:
                cache.authenticate(session, token)
            counts.append(len(statements) - before)
        assert counts[0] == counts[1] >= 1


def test_rest_revoked_token_is_refused_after_the_cache_seconds(settings, sessions, acme):
    _, token = acme
    services = build_services(settings.model_copy(update={"token_cache_seconds": TTL}))
    headers = {"Authorization": f"Bearer {token}"}
    app = create_app(services)
    clock = Clock()
    app.state.tokens.clock = clock
    with TestClient(app) as client:
        assert client.get("/v1/virtual-dimensions", headers=headers).status_code == 200
        with sessions.begin() as session:
            revoke_token(session, "Acme")
        assert client.get("/v1/virtual-dimensions", headers=headers).status_code == 200
        clock.now += TTL
        refused = client.get("/v1/virtual-dimensions", headers=headers)
    services.close()
    assert refused.status_code == 401
    assert refused.json()["detail"].startswith("this API token was revoked on ")


SLOW_READ_SECONDS = 0.02
CLIENTS = 50


def test_50_clients_of_one_token_are_all_served_by_waiting_for_a_slot(tmp_path, monkeypatch):
    """4 slots per token, 8 per process, each read 20 ms: without a wait, 46 of the 50 first requests would be
    refused at once; with a 5 s wait all 50 x 4 are answered 200 (the last of a round waits ~12 x 20 ms)."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'costory.db'}",
        trust_validation="skip",
        data_dir=tmp_path / "data",
        admission_wait_seconds=5.0,
    )
    slow_list = dimensions.list_dimensions

    def slow(*args, **kwargs):
        time.sleep(SLOW_READ_SECONDS)
        return slow_list(*args, **kwargs)

    monkeypatch.setattr(dimensions, "list_dimensions", slow)
    services = build_services(settings)
    with services.sessions.begin() as session:
        _, token = create_tenant(session, "Acme")
    admission = Admission.from_settings(settings)
    thread, server = start_http(services, admission, bind_http("127.0.0.1:0"))
    port = server.servers[0].sockets[0].getsockname()[1]

    def client(_index: int) -> list[int]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        statuses = []
        for _ in range(4):
            connection.request("GET", "/v1/virtual-dimensions", headers={"Authorization": f"Bearer {token}"})
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)
        connection.close()
        return statuses

    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            results = list(pool.map(client, range(CLIENTS)))
    finally:
        server.should_exit = True
        thread.join(10)
        services.close()
    assert Counter(status for statuses in results for status in statuses) == {200: CLIENTS * 4}
    assert (admission.in_flight, admission.waiting) == (0, 0)


def test_the_token_reaches_no_log_and_no_answer(settings, sessions, acme, caplog):
    """A valid token (remembered, then revoked), an unknown one, and admission refusals: neither token appears in a
    log record (DEBUG) or a response."""
    _, token = acme
    unknown = "cst_DISTINCTIVE-unknown-token-0123456789"
    services = build_services(settings.model_copy(update={"admission_wait_seconds": 0.0}))
    admission = Admission(max_in_flight=1, max_in_flight_per_token=1)
    app = create_app(services, admission)
    answers = []
    with caplog.at_level("DEBUG"), TestClient(app) as client:
        for bearer in (token, token, unknown):
            answers.append(client.get("/v1/virtual-dimensions", headers={"Authorization": f"Bearer {bearer}"}))
        with admission.admit(token):
            answers.append(client.get("/v1/virtual-dimensions", headers={"Authorization": f"Bearer {token}"}))
        with sessions.begin() as session:
            revoke_token(session, "Acme")
        app.state.tokens.clock = lambda: float("inf")
        answers.append(client.get("/v1/virtual-dimensions", headers={"Authorization": f"Bearer {token}"}))
    services.close()
    assert [a.status_code for a in answers] == [200, 200, 401, 429, 401]
    shown = caplog.text + "".join(a.text + str(a.headers) for a in answers)
    assert token not in shown and unknown not in shown
    assert token[4:] not in shown and unknown[4:] not in shown


def test_a_dashboard_session_and_mcp_are_admitted_like_a_token(settings, acme):
    """A session cookie counts as its own caller (its hash the key: two sessions do not share one allowance),
    and MCP over HTTP takes a slot as the API does."""
    _, token = acme
    services = build_services(settings.model_copy(update={"admission_wait_seconds": 0.0}))
    admission = Admission(max_in_flight=3, max_in_flight_per_token=1)
    mine, other = "sealed-session-one", "sealed-session-two"
    answers = []
    with TestClient(create_app(services, admission)) as client:
        with admission.admit(f"session:{hashlib.sha256(mine.encode()).hexdigest()}"):
            client.cookies.set("costory_session", mine)
            answers.append(client.get("/v1/virtual-dimensions").status_code)  # its one slot is taken
            client.cookies.set("costory_session", other)
            answers.append(client.get("/v1/virtual-dimensions").status_code)  # admitted, then not a valid session
        client.cookies.clear()
        with admission.admit(token):
            answers.append(client.post("/mcp", headers={"Authorization": f"Bearer {token}"}).status_code)
    services.close()
    assert answers == [429, 401, 429]
