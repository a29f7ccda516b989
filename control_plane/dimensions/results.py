"""Which allocation result file is served: the one the dimension's committed row points at.

1. A computation writes its result to a new file (`compute.new_result_file`) before anything is committed.
2. The pointer (`Dimension.allocation_file`) changes in the same transaction that saves the definition or
   records the recompute; readers go through the pointer, so a file whose transaction did not commit is
   never read.
3. After the commit, the file the pointer named before is removed; after a rollback, the new file is.
4. What a crash leaves behind (a file no row points at) is removed by `sweep`, once older than `GRACE`.

The pointer must change in the session's outermost transaction: a rolled-back savepoint is not seen here.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from control_plane.dimensions import compute
from control_plane.models import Dimension

log = logging.getLogger(__name__)

GRACE_SECONDS = 3600
"""How old a file no row points at must be before `sweep` removes it: longer than any transaction that
could still commit a pointer to it."""

_PENDING = "costory.allocation_files"


def current_allocation_path(session: Session, data_dir: Path, tenant_id: str, dimension_id: str) -> Path | None:
    """The result file the tenant's dimension serves, or None (no results yet, or no such dimension)."""
    pointer = session.scalar(
        sa.select(Dimension.allocation_file).where(Dimension.tenant_id == tenant_id, Dimension.id == dimension_id)
    )
    return compute.result_path(data_dir, tenant_id, dimension_id, pointer)


def point_to(session: Session, row: Dimension, data_dir: Path, result: compute.AllocationResult | None) -> None:
    """Write ``result`` to a new file and point ``row`` at it (None: no results); the previous file goes once
    the transaction commits, the new one if it rolls back."""
    previous = compute.result_path(data_dir, row.tenant_id, row.id, row.allocation_file)
    pointer = compute.new_result_file(row.id) if result is not None else None
    written = compute.result_path(data_dir, row.tenant_id, row.id, pointer)
    pending = _pending(session)
    if written is not None and result is not None:
        pending.on_rollback.append(written)
        compute.write_allocations(written, result)
    row.allocation_file = pointer
    if previous is not None:
        pending.on_commit.append(previous)


def forget(session: Session, row: Dimension, data_dir: Path) -> None:
    """The dimension is being deleted: its file goes once the transaction commits."""
    current = compute.result_path(data_dir, row.tenant_id, row.id, row.allocation_file)
    if current is not None:
        _pending(session).on_commit.append(current)


def sweep(session: Session, data_dir: Path, tenant_id: str, *, now: float | None = None) -> int:
    """Remove the tenant's result files that no row points at and that are older than GRACE_SECONDS (left by
    a transaction that never committed, or a process killed before its clean-up); returns how many."""
    folder = compute.tenant_folder(data_dir, tenant_id)
    if not folder.is_dir():
        return 0
    pointers = session.scalars(sa.select(Dimension.allocation_file).where(Dimension.tenant_id == tenant_id))
    served = {folder / pointer for pointer in pointers if pointer}
    cutoff = (time.time() if now is None else now) - GRACE_SECONDS
    removed = 0
    for path in [*folder.glob("*.parquet"), *folder.glob("*/*.parquet")]:
        if path not in served and _modified(path) < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    for child in folder.iterdir():
        if child.is_dir() and not any(child.iterdir()):
            child.rmdir()
    return removed


def _modified(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")


@dataclass
class _Pending:
    """Files to remove when the session's transaction ends, one way or the other."""

    on_commit: list[Path] = field(default_factory=list)
    on_rollback: list[Path] = field(default_factory=list)

    def committed(self, _session: Session) -> None:
        self._remove(self.on_commit)

    def rolled_back(self, _session: Session) -> None:
        self._remove(self.on_rollback)

    def _remove(self, paths: list[Path]) -> None:
        for path in paths:
            try:
                path.unlink(missing_ok=True)
            except OSError as error:  # the sweep retries; the transaction's outcome stands
                log.warning("could not remove allocation file %s: %s", path, error)
        self.on_commit.clear()
        self.on_rollback.clear()


def _pending(session: Session) -> _Pending:
    pending = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = _Pending()
        sa.event.listen(session, "after_commit", pending.committed)
        sa.event.listen(session, "after_rollback", pending.rolled_back)
    return pending
