"""Delivery across processes: a process killed between sending and recording (the failpoint) sends nothing twice
after a restart, its row becoming UNCERTAIN once its lease expires; two replicas on a real PostgreSQL deliver
each notification once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from control_plane.models import utcnow
from control_plane.notify import Recipient, Status, deliver_due
from control_plane.notify.outbox import CRASH_AFTER_SEND
from control_plane.services import build_services
from devtools.standins.server import LoopbackApi, Reply, Request
from tests.control_plane.notify.conftest import SMTP_PASSWORD, WEBHOOK_PATH
from tests.control_plane.notify.support import NOW, outbox, queue

REPO = Path(__file__).resolve().parents[3]
WORKER = Path(__file__).resolve().parent / "worker.py"


def environment(settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COSTORY_")}
    env.update(
        PYTHONPATH=str(REPO),
        COSTORY_DATABASE_URL=settings.database_url,
        COSTORY_DATA_DIR=str(settings.data_dir),
        COSTORY_SECRET_KEY=settings.secret_key,
        COSTORY_TRUST_VALIDATION="skip",
        COSTORY_LEASE_SECONDS=str(settings.lease_seconds),
        COSTORY_SMTP_HOST=settings.smtp_host,
        COSTORY_SMTP_PORT=str(settings.smtp_port),
        COSTORY_SMTP_USERNAME=settings.smtp_username,
        COSTORY_SMTP_PASSWORD=SMTP_PASSWORD,
        COSTORY_SMTP_FROM=settings.smtp_from,
        COSTORY_SMTP_STARTTLS="false",
        **extra,
    )
    return env


def run_worker(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(WORKER), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_a_crash_between_send_and_record_sends_nothing_twice(services, settings, tenant_id, slack, webhook):
    queue(services, tenant_id, Recipient("SLACK", webhook), key="budget_1:2026-03:90", text="first", now=NOW)
    queue(
        services,
        tenant_id,
        Recipient("SLACK", webhook),
        key="budget_1:2026-03:100",
        text="second",
        now=NOW + timedelta(seconds=1),
    )

    crashed = run_worker(environment(settings, **{CRASH_AFTER_SEND: "1"}), "once")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert [r.body["text"] for r in slack.requests] == ["first"]  # delivered, then killed before recording
    assert [r.status for r in outbox(services)] == [Status.SENDING, Status.PENDING]

    restarted = run_worker(environment(settings), "once")
    assert (restarted.returncode, restarted.stdout.strip()) == (0, "1"), restarted.stderr
    assert [r.body["text"] for r in slack.requests] == ["first", "second"]  # the first one not again

    # Once the dead process's lease has expired, its row is marked UNCERTAIN, and still not resent.
    assert deliver_due(services, utcnow() + timedelta(seconds=settings.lease_seconds + 1)) == 0
    assert [r.body["text"] for r in slack.requests] == ["first", "second"]
    first, second = outbox(services)
    assert (second.status, second.attempts) == (Status.SENT, 1)
    assert (first.status, first.attempts, first.lease_expires_at) == (Status.UNCERTAIN, 1, None)
    owner = first.lease_owner
    assert owner and owner.split(":")[1].isdigit()  # host:pid:random of the killed process
    assert first.last_error == (
        f"The process sending it ({owner}) stopped before recording the outcome: it may have been delivered. Check "
        "the Slack channel; it is not resent automatically."
    )


@pytest.fixture
def slow_slack() -> Iterator[LoopbackApi]:
    """A webhook that takes 20 ms to answer, so two replicas' deliveries interleave."""

    def ok(_request: Request) -> Reply:
        time.sleep(0.02)
        return Reply(200, b"ok")

    with LoopbackApi({("POST", "/services/*"): ok}, authenticate=lambda _request: True) as api:
        yield api


def test_two_replicas_on_postgresql_deliver_each_notification_once(
    settings, postgres_url, mailbox, slow_slack, tmp_path
):
    from control_plane.tenants.service import create_tenant

    box, _port = mailbox
    pg = settings.model_copy(update={"database_url": postgres_url})
    services = build_services(pg)
    try:
        with services.sessions.begin() as session:
            tenant_id = create_tenant(session, "Tenant A")[0].id
        for n in range(12):
            queue(services, tenant_id, Recipient("SLACK", slow_slack.url + WEBHOOK_PATH), key=f"k{n}", text=f"s{n}")
        for n in range(8):
            queue(services, tenant_id, Recipient("EMAIL", f"user{n}@example.com"), key=f"e{n}", text=f"e{n}")

        env = environment(pg)
        workers = [
            subprocess.Popen(
                [sys.executable, str(WORKER), "drain", str(tmp_path / f"ready{i}"), str(tmp_path / "go")],
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(2)
        ]
        try:
            deadline = time.monotonic() + 90
            while not all((tmp_path / f"ready{i}").exists() for i in range(2)):
                assert time.monotonic() < deadline and all(w.poll() is None for w in workers)
                time.sleep(0.01)
            (tmp_path / "go").touch()  # both start delivering at the same moment
            results = [w.communicate(timeout=120) for w in workers]
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.kill()
                    worker.communicate()
        assert [w.returncode for w in workers] == [0, 0], [err for _, err in results]
        sent = [int(out.strip()) for out, _ in results]

        assert sum(sent) == 20 and min(sent) > 0, sent  # both replicas worked, and 20 sends in all
        assert Counter(r.body["text"] for r in slow_slack.requests) == Counter(f"s{n}" for n in range(12))
        assert sorted(to for _, [to], _ in box.messages) == sorted(f"user{n}@example.com" for n in range(8))
        rows = outbox(services)
        assert {(r.status, r.attempts) for r in rows} == {(Status.SENT, 1)}
        assert len({r.lease_owner for r in rows}) == 2
    finally:
        services.close()
