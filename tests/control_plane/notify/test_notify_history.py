"""History over REST and gRPC (a real server on 127.0.0.1): masked recipients, status and error of each attempt,
filters by source and status, pagination, a bad status named, and another tenant's history invisible."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import grpc
import pytest
from fastapi.testclient import TestClient

from control_plane.notify import Recipient, deliver_due
from control_plane.rest.app import create_app
from control_plane.server import create_server
from control_plane.tenants.service import create_tenant
from costory_proto.costory.v1 import notification_pb2 as pb
from costory_proto.costory.v1 import notification_pb2_grpc
from devtools.standins.server import Reply
from tests.control_plane.notify.support import NOW, outbox, queue


@pytest.fixture
def tokens(services) -> dict[str, tuple[str, str]]:
    """Tenant name -> (tenant id, API token)."""
    found = {}
    with services.sessions.begin() as session:
        for name in ("A", "B"):
            tenant, token = create_tenant(session, f"Tenant {name}")
            found[name] = (tenant.id, token)
    return found


@pytest.fixture
def history(services, tokens, slack, webhook):
    """Tenant A: budget_1 sent to Slack and Ada, budget_1 failed to a revoked webhook, alert_1 waiting to retry."""
    a = tokens["A"][0]
    queue(services, a, Recipient("SLACK", webhook), Recipient("EMAIL", "ada@example.com"), now=NOW)
    deliver_due(services, NOW)
    slack.fail_next(Reply(403, b"invalid_token"))
    queue(services, a, Recipient("SLACK", webhook + "x"), key="budget_1:2026-03:110", now=NOW + timedelta(seconds=1))
    deliver_due(services, NOW + timedelta(seconds=1))
    slack.fail_next(Reply(503, b"busy"))
    queue(
        services,
        a,
        Recipient("SLACK", webhook),
        key="alert_1:2026-03-02",
        source_kind="ALERT",
        source_id="alert_1",
        subject="Alert",
        now=NOW + timedelta(seconds=2),
    )
    deliver_due(services, NOW + timedelta(seconds=2))
    return {(r.source_id, r.key, r.channel): r.id for r in outbox(services)}


@pytest.fixture
def api(services) -> Iterator[TestClient]:
    with TestClient(create_app(services)) as client:
        yield client


@pytest.fixture
def stub(services) -> Iterator:
    def _stub(token: str) -> notification_pb2_grpc.NotificationServiceStub:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        channels.append(channel)
        return notification_pb2_grpc.NotificationServiceStub(channel), (("authorization", f"Bearer {token}"),)

    server, port = create_server("127.0.0.1:0", services.settings, services)
    server.start()
    channels: list[grpc.Channel] = []
    yield _stub
    for channel in channels:
        channel.close()
    server.stop(None)


def test_rest_lists_the_history_with_masked_recipients(api, tokens, history, slack):
    port = slack.url.rsplit(":", 1)[1]
    answer = api.get("/v1/notifications", headers={"Authorization": f"Bearer {tokens['A'][1]}"})
    assert answer.status_code == 200
    rows = answer.json()["notifications"]
    for row in rows:
        row.pop("id")
    assert sorted(rows[:2], key=lambda r: r["channel"]) == [
        {
            "source_kind": "BUDGET",
            "source_id": "budget_1",
            "key": "budget_1:2026-03:100",
            "channel": "EMAIL",
            "address": "a***@example.com",
            "status": "SENT",
            "attempts": 1,
            "subject": "Budget Platform: 100% of March reached",
            "created_at": "2026-03-02T09:00:00Z",
            "sent_at": "2026-03-02T09:00:00Z",
        },
        {
            "source_kind": "BUDGET",
            "source_id": "budget_1",
            "key": "budget_1:2026-03:100",
            "channel": "SLACK",
            "address": f"127.0.0.1:{port}/…",
            "status": "SENT",
            "attempts": 1,
            "subject": "Budget Platform: 100% of March reached",
            "created_at": "2026-03-02T09:00:00Z",
            "sent_at": "2026-03-02T09:00:00Z",
        },
    ]
    assert rows[2:] == [
        {
            "source_kind": "BUDGET",
            "source_id": "budget_1",
            "key": "budget_1:2026-03:110",
            "channel": "SLACK",
            "address": f"127.0.0.1:{port}/…",
            "status": "FAILED",
            "attempts": 1,
            "last_error": "Slack refused the webhook (HTTP 403: invalid_token): the webhook's token was revoked or "
            "the app removed. Create a new incoming webhook in Slack and update the recipient.",
            "subject": "Budget Platform: 100% of March reached",
            "created_at": "2026-03-02T09:00:01Z",
        },
        {
            "source_kind": "ALERT",
            "source_id": "alert_1",
            "key": "alert_1:2026-03-02",
            "channel": "SLACK",
            "address": f"127.0.0.1:{port}/…",
            "status": "PENDING",
            "attempts": 1,
            "last_error": "Slack failed (HTTP 503: busy).",
            "subject": "Alert",
            "created_at": "2026-03-02T09:00:02Z",
            "next_attempt_at": "2026-03-02T09:01:02Z",
        },
    ]


def test_rest_filters_by_source_and_status_and_pages(api, tokens, history):
    a = {"Authorization": f"Bearer {tokens['A'][1]}"}

    def ids(**params) -> list[str]:
        return [n["id"] for n in api.get("/v1/notifications", params=params, headers=a).json().get("notifications", [])]

    assert ids(source_id="alert_1") == [history[("alert_1", "alert_1:2026-03-02", "SLACK")]]
    assert ids(source_id="budget_1", status="FAILED") == [history[("budget_1", "budget_1:2026-03:110", "SLACK")]]
    assert len(ids(source_id="budget_1", status="SENT")) == 2
    assert ids(status="UNCERTAIN") == []

    first = api.get("/v1/notifications", params={"page_size": 3}, headers=a).json()
    second = api.get("/v1/notifications", params={"page_size": 3, "page_token": first["next_page_token"]}, headers=a)
    assert [n["id"] for n in first["notifications"] + second.json()["notifications"]] == ids()
    assert "next_page_token" not in second.json()


def test_rest_names_a_bad_status(api, tokens):
    answer = api.get(
        "/v1/notifications", params={"status": "DONE"}, headers={"Authorization": f"Bearer {tokens['A'][1]}"}
    )
    assert answer.status_code == 400
    [problem] = answer.json()["detail"]
    assert problem["loc"] == ["status"]


def test_rest_another_tenant_sees_nothing(api, tokens, history):
    answer = api.get("/v1/notifications", headers={"Authorization": f"Bearer {tokens['B'][1]}"})
    assert (answer.status_code, answer.json()) == (200, {})
    assert api.get("/v1/notifications").status_code == 401


def test_grpc_lists_the_same_history(api, stub, tokens, history):
    service, metadata = stub(tokens["A"][1])
    response = service.ListNotifications(pb.ListNotificationsRequest(source_id="budget_1"), metadata=metadata)
    rest = api.get(
        "/v1/notifications", params={"source_id": "budget_1"}, headers={"Authorization": f"Bearer {tokens['A'][1]}"}
    ).json()
    assert [n.id for n in response.notifications] == [n["id"] for n in rest["notifications"]]
    assert {n.address for n in response.notifications} == {
        "a***@example.com",
        *{n["address"] for n in rest["notifications"] if n["channel"] == "SLACK"},
    }
    failed = service.ListNotifications(pb.ListNotificationsRequest(status="FAILED"), metadata=metadata)
    assert [(n.key, n.status, n.attempts) for n in failed.notifications] == [("budget_1:2026-03:110", "FAILED", 1)]

    other, other_metadata = stub(tokens["B"][1])
    assert list(other.ListNotifications(pb.ListNotificationsRequest(), metadata=other_metadata).notifications) == []


def test_grpc_names_a_bad_status(stub, tokens):
    service, metadata = stub(tokens["A"][1])
    with pytest.raises(grpc.RpcError) as refused:
        service.ListNotifications(pb.ListNotificationsRequest(status="DONE"), metadata=metadata)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.details().startswith("status: ")
