"""The identity package's domain errors (their kind, in control_plane.errors, says the status they become)."""

from __future__ import annotations

from control_plane.errors import ResourceExhausted, Unavailable


class PoolExhausted(ResourceExhausted):
    """Every key in the configured pool already belongs to a tenant."""


class IdTokenUnavailable(Unavailable):
    """No Google ID token could be obtained for a tenant. The message never holds a key or a token."""
