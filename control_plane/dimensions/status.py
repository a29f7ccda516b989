"""The states of a virtual dimension's allocation."""

from __future__ import annotations

import enum


class DimensionStatus(enum.StrEnum):
    PENDING = "PENDING"
    """Saved, not computed yet."""
    COMPUTED = "COMPUTED"
    """Results are served; `status_message` holds the warnings of the computation, if any."""
    NO_COST_DATA = "NO_COST_DATA"
    """Nothing to allocate yet: no billing datasource has been imported."""
    ERROR = "ERROR"
    """The last recompute (after new data) failed; `status_message` says why. The results of the last
    successful computation are still served."""
