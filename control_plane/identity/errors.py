"""The identity package's domain errors (their ``code`` is the gRPC status they become)."""

from __future__ import annotations

from google.rpc import code_pb2

from control_plane.errors import DomainError


class PoolExhausted(DomainError):
    """Every key in the configured pool already belongs to a tenant."""

    code = code_pb2.RESOURCE_EXHAUSTED


class IdTokenUnavailable(DomainError):
    """No Google ID token could be obtained for a tenant. The message never holds a key or a token."""

    code = code_pb2.UNAVAILABLE
