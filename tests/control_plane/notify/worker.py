"""A control-plane process that delivers notifications, for the crash and replica tests. Settings come from the
environment (COSTORY_DATABASE_URL, COSTORY_SECRET_KEY, COSTORY_SMTP_*…), the clock is the real one.

    worker.py once              one deliver_due; prints how many were sent
    worker.py drain READY GO    touches READY, waits for GO to exist, then delivers until nothing is left
                                to deliver; prints how many this process sent
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import sqlalchemy as sa

from control_plane.models import utcnow
from control_plane.notify import Notification, Status, deliver_due
from control_plane.services import build_services
from control_plane.settings import Settings


def main(argv: list[str]) -> int:
    services = build_services(Settings())
    if argv[0] == "once":
        print(deliver_due(services, utcnow()), flush=True)
        return 0
    ready, go = Path(argv[1]), Path(argv[2])
    ready.touch()
    deadline = time.monotonic() + 60
    while not go.exists():
        if time.monotonic() > deadline:
            return 2
        time.sleep(0.005)
    sent = 0
    while True:
        sent += deliver_due(services, utcnow())
        with services.sessions() as session:
            left = session.scalar(
                sa.select(sa.func.count())
                .select_from(Notification)
                .where(Notification.status.in_([Status.PENDING.value, Status.SENDING.value]))
            )
        if not left:
            break
        time.sleep(0.01)
    print(sent, flush=True)
    services.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
