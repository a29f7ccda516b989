"""Which allocation results are served: the ones the dimension's committed row points at.

1. A computation writes its results under a new folder (`compute.new_result_folder`) before anything is
   committed.
2. The pointer (`Dimension.allocation_file`) changes in the same transaction that saves the definition or
   records the recompute; readers go through the pointer, so a file whose transaction did not commit is
   never read.
3. After the commit, the results the pointer named before are removed; after a rollback, the new ones are.
4. What a crash leaves behind (objects no row points at) is removed by `sweep`, once older than `GRACE`.

The pointer must change in the session's outermost transaction: a rolled-back savepoint is not seen here.
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from sqlalchemy.orm import Session

from control_plane.datastore import DataStore, cleanup
from control_plane.dimensions import compute
from control_plane.models import Dimension

GRACE_SECONDS = 3600
"""How old an object no row points at must be before `sweep` removes it: longer than any transaction that
could still commit a pointer to it."""



def current_results(session: Session, tenant_id: str, dimension_id: str) -> compute.ResultKeys | None:
    """The results the tenant's dimension serves, or None (no results yet, or no such dimension)."""
    pointer = session.scalar(
        sa.select(Dimension.allocation_file).where(Dimension.tenant_id == tenant_id, Dimension.id == dimension_id)
    )
    return compute.result_keys(tenant_id, dimension_id, pointer)


def point_to(session: Session, row: Dimension, store: DataStore, computed: compute.Computed | None) -> None:
    """Point ``row`` at the results ``computed`` wrote (None: no results); the previous results go once the
    transaction commits, the new ones if it rolls back."""
    previous = compute.result_keys(row.tenant_id, row.id, row.allocation_file)
    pointer = None
    if computed is not None and computed.folder is not None:
        base = compute.tenant_folder(row.tenant_id) + "/"
        if not computed.folder.startswith(base):
            raise ValueError(f"results {computed.folder!r} are not under {base!r}")
        pointer = computed.folder[len(base) :]
        compute.result_keys(row.tenant_id, row.id, pointer)  # refuses a folder of another dimension
        cleanup(session, store).on_rollback.append(computed.folder)
    row.allocation_file = pointer
    if previous is not None:
        cleanup(session, store).on_commit.append(_location(previous))


def forget(session: Session, row: Dimension, store: DataStore) -> None:
    """The dimension is being deleted: its results go once the transaction commits."""
    current = compute.result_keys(row.tenant_id, row.id, row.allocation_file)
    if current is not None:
        cleanup(session, store).on_commit.append(_location(current))


def sweep(session: Session, store: DataStore, tenant_id: str, *, now: float | None = None) -> int:
    """Remove the tenant's result objects that no row points at and that are older than GRACE_SECONDS (left
    by a transaction that never committed, or a process killed before its clean-up); returns how many."""
    base = compute.tenant_folder(tenant_id)
    pointers = session.scalars(sa.select(Dimension.allocation_file).where(Dimension.tenant_id == tenant_id))
    served = {f"{base}/{pointer}" for pointer in pointers if pointer}
    cutoff = (time.time() if now is None else now) - GRACE_SECONDS
    removed = 0
    for stored in store.list(base):
        relative = stored.key[len(base) + 1 :]
        dimension, _, rest = relative.partition("/")
        folder = f"{base}/{dimension}/{rest.partition('/')[0]}" if "/" in rest else stored.key
        if folder in served or stored.key in served or stored.modified.timestamp() >= cutoff:
            continue
        store.delete(stored.key)
        removed += 1
    return removed


def _location(keys: compute.ResultKeys) -> str:
    return keys.folder or keys.legacy_file or ""
