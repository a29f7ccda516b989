"""Identity fixtures: a GoogleIdentity over the test database and a loopback token endpoint."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from control_plane.identity import GoogleIdentity
from control_plane.identity.token_endpoint import TokenEndpoint, TrustedKey


@pytest.fixture
def identity(settings) -> Iterator[GoogleIdentity]:
    identity = GoogleIdentity(settings)
    yield identity
    identity.close()


@pytest.fixture
def token_endpoint() -> Iterator[tuple[TokenEndpoint, dict[str, TrustedKey]]]:
    """A loopback endpoint trusting the keys the test puts in the returned dict (email -> key)."""
    known: dict[str, TrustedKey] = {}
    endpoint = TokenEndpoint(known.get)
    endpoint.start()
    yield endpoint, known
    endpoint.stop()
