"""The distributed engine: the allocation kernel run once per cost partition as Ray tasks on an existing cluster.

`compute.run_allocation` hands a `PartRunner` the kernel (`compute.allocate_part` bound to the data store, the
dimension, the usage tables and the window) and one `PartJob` per cost partition. Here:

1. Connect once per process, on the first computation (never at import time): `ray.init(address)`; check the
   workers run the same control plane version as this process, so both engines give the same cents.
2. Put the kernel in the object store once; every task receives a reference, not a copy.
3. Submit one task per partition (1 CPU each), keeping at most `in_flight` running or queued, so a month of a
   thousand partitions neither floods the cluster's queue nor this process's memory. A task writes its parts
   to the data store itself (every worker must reach it) and returns only the partition's small summary.
4. Return the outcomes in job order. A worker that dies is replaced and its task re-run (`max_retries`; the
   kernel is idempotent: it rewrites the same part key). A task that fails cancels the rest and raises the
   error the local engine would have raised (a `DomainError` as it is), or a `PartitionFailed` naming the
   partition: never a Ray traceback.
"""

from __future__ import annotations

import importlib.metadata
import logging
import platform
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from control_plane.allocation import ConservationError
from control_plane.dimensions.compute import Kernel, PartJob, PartOutcome, PartRunner
from control_plane.errors import DomainError, FailedPrecondition, Unavailable, cap

if TYPE_CHECKING:
    from ray import ObjectRef

log = logging.getLogger(__name__)

DISTRIBUTION = "costory-selfhosted"
"""The package whose version workers must share with this process."""
MAX_RETRIES = 2
"""Re-runs of a task whose worker process or node died (not of a task that raised: that is deterministic)."""
PROBE_SECONDS = 120.0
"""How long the first task (the workers' versions) may take: a cold cluster starts a worker process for it."""
SETTLE_SECONDS = 30.0
"""How long a failure waits for the tasks it cancelled to stop before the caller removes what they wrote."""
_CAUSE_BYTES = 200


class PartitionFailed(Unavailable):
    """A cost partition could not be computed on the cluster (the data store unreachable from a worker, the
    object gone, a worker lost past its retries)."""

    def __init__(self, message: str, cost_key: str = ""):
        super().__init__(message)
        self.cost_key = cost_key


def ray_runner(
    address: str | None, *, in_flight: int | None = None, runtime_env: dict[str, Any] | None = None
) -> PartRunner:
    """A `PartRunner` on the Ray cluster at ``address`` (`ray://head:10001`, `head:6379` or `auto`).

    Nothing connects until the first computation; an unset address is refused then, with what to set.
    ``in_flight``: tasks submitted at once (default: twice the cluster's CPUs). ``runtime_env``: what Ray
    installs on the workers for this process's tasks (`pip`, `env_vars`…), when the cluster's image lacks it."""
    return _RayRunner(address, in_flight, runtime_env)


class _RayRunner:
    def __init__(self, address: str | None, in_flight: int | None, runtime_env: dict[str, Any] | None):
        self.address = address
        self.in_flight = in_flight
        self.runtime_env = runtime_env

    def __call__(self, kernel: Kernel, jobs: list[PartJob]) -> list[PartOutcome]:
        if not self.address:
            raise FailedPrecondition(
                "COSTORY_ENGINE is ray but no cluster is named: set COSTORY_RAY_ADDRESS to the Ray cluster "
                "(ray://head:10001, or auto on one of its nodes), or set COSTORY_ENGINE=local."
            )
        if not jobs:
            return []
        cluster = _connect(self.address, self.runtime_env)
        window = self.in_flight or max(2, 2 * cluster.cpus)
        import ray

        shared = ray.put(kernel)
        outcomes: list[PartOutcome | None] = [None] * len(jobs)
        running: dict[ObjectRef, int] = {}
        submitted = 0
        try:
            while submitted < len(jobs) or running:
                while submitted < len(jobs) and len(running) < window:
                    running[cluster.task.remote(shared, jobs[submitted])] = submitted
                    submitted += 1
                done, _ = ray.wait(list(running), num_returns=1)
                for ref in done:
                    index = running.pop(ref)
                    outcomes[index] = _outcome(ref, jobs[index])
        except BaseException:
            _cancel(list(running))
            raise
        return [outcome for outcome in outcomes if outcome is not None]


@dataclass(frozen=True)
class _Cluster:
    address: str
    task: Any
    """The kernel as a Ray remote function."""
    cpus: int


_connection: _Cluster | None = None
_connecting = threading.Lock()


def _connect(address: str, runtime_env: dict[str, Any] | None) -> _Cluster:
    """The cluster this process is connected to, connecting on first use. Ray holds one connection per
    process: every runner of the process shares it (one control plane process, one COSTORY_RAY_ADDRESS)."""
    global _connection
    with _connecting:
        if _connection is not None and _connection.address == address and _ray_connected():
            return _connection
        import ray

        try:
            ray.init(
                address=address,
                ignore_reinit_error=True,
                logging_level=logging.WARNING,
                log_to_driver=False,
                runtime_env=runtime_env,
            )
            worker = ray.get(ray.remote(num_cpus=0)(_versions).remote(), timeout=PROBE_SECONDS)
        except Exception as error:  # Ray raises ConnectionError, RuntimeError, GetTimeoutError…
            raise Unavailable(
                f"the Ray cluster at {address} (COSTORY_RAY_ADDRESS) could not be reached: {_describe(error)}"
            ) from None
        _check_versions(worker)
        task = ray.remote(num_cpus=1, max_retries=MAX_RETRIES, retry_exceptions=False)(_run_kernel)
        _connection = _Cluster(address, task, int(ray.cluster_resources().get("CPU", 1)))
        return _connection


def _ray_connected() -> bool:
    import ray

    return bool(ray.is_initialized())


def _run_kernel(kernel: Kernel, job: PartJob) -> PartOutcome:
    """One task: the kernel on one partition (Ray resolves the kernel's reference before the call)."""
    return kernel(job)


def _versions() -> tuple[str, str]:
    return importlib.metadata.version(DISTRIBUTION), platform.python_version()


def _check_versions(worker: tuple[str, str]) -> None:
    here = _versions()
    if tuple(worker) != here:
        raise FailedPrecondition(
            f"the Ray workers run {DISTRIBUTION} {worker[0]} on Python {worker[1]}, this control plane "
            f"{here[0]} on Python {here[1]}: install the same version on the cluster (its image, or a runtime_env) "
            "so both engines compute the same allocations."
        )


def _outcome(ref: ObjectRef, job: PartJob) -> PartOutcome:
    """The task's result, or the error the caller can act on."""
    import ray
    from ray import exceptions

    try:
        return ray.get(ref)
    except exceptions.RayTaskError as error:
        cause = error.cause
        if isinstance(cause, DomainError | ConservationError):
            raise cause from None  # what the local engine raises: the services already handle it
        message = f"cost partition {job.cost_key} could not be computed: {_describe(cause)}"
        raise PartitionFailed(message, job.cost_key) from None
    except exceptions.RayError as error:  # the worker or its node lost past the retries, the object store…
        raise PartitionFailed(
            f"cost partition {job.cost_key} could not be computed: the Ray cluster lost its task "
            f"({type(error).__name__}); retry, and check the cluster's workers",
            job.cost_key,
        ) from None


def _describe(error: BaseException | None) -> str:
    """``ErrorType: first line of the message``, capped (no traceback, no Ray banner)."""
    if error is None:
        return "unknown error"
    lines = str(error).strip().splitlines()
    first = lines[0] if lines else ""
    return cap(f"{type(error).__name__}: {first}" if first else type(error).__name__, _CAUSE_BYTES)


def _cancel(refs: list[ObjectRef]) -> None:
    """Stop the tasks still queued or running and wait (bounded) until they have, so nothing writes into a
    results folder after the caller removed it."""
    if not refs:
        return
    import ray

    for ref in refs:
        try:
            ray.cancel(ref, force=False)
        except Exception as error:  # a task that finished meanwhile cannot be cancelled
            log.debug("could not cancel a Ray task: %s", type(error).__name__)
    _, unsettled = ray.wait(refs, num_returns=len(refs), timeout=SETTLE_SECONDS)
    if unsettled:
        log.warning("%d Ray task(s) still running %.0f s after a failed computation", len(unsettled), SETTLE_SECONDS)

