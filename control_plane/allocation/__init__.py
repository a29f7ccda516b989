"""Cost allocation: spread cost rows over the values of a virtual dimension by ordered rules.

A pure core — no database, no network. See `engine.allocate` and `rules.VirtualDimension`.
"""

from control_plane.allocation.engine import AllocationResult, allocate, largest_remainder, preview_split
from control_plane.allocation.errors import AllocationError, ConservationError
from control_plane.allocation.rules import (
    Allocation,
    AllocationKind,
    Always,
    And,
    Condition,
    Equals,
    Exists,
    In,
    MappingStrategy,
    Matches,
    Not,
    Or,
    Rule,
    ValueMapping,
    VirtualDimension,
)

__all__ = [
    "Allocation",
    "AllocationError",
    "AllocationKind",
    "AllocationResult",
    "Always",
    "And",
    "Condition",
    "ConservationError",
    "Equals",
    "Exists",
    "In",
    "MappingStrategy",
    "Matches",
    "Not",
    "Or",
    "Rule",
    "ValueMapping",
    "VirtualDimension",
    "allocate",
    "largest_remainder",
    "preview_split",
]
