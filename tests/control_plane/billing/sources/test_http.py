"""ApiClient against a loopback server: JSON numbers read exactly from their text, and a repr without the key."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from control_plane.billing.sources.http import ApiClient
from devtools.standins.server import LoopbackApi, Reply, Request

KEY = "sk-test-SECRET-41d2c9"
BODY = b'{"amount": 98765.432109876543210987, "small": 1e-13, "count": 3, "name": "x"}'
"""More digits than a double holds: only a read from the text keeps them all."""


@pytest.fixture
def api() -> Iterator[LoopbackApi]:
    def bearer(request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {KEY}"

    with LoopbackApi({("GET", "/amounts"): lambda request: Reply(200, BODY)}, bearer) as server:
        yield server


def client(url: str, *, exact_numbers: bool = True, auth: tuple[str, str] | None = None) -> ApiClient:
    return ApiClient(
        source="Test API",
        base_url=url,
        headers={"Authorization": f"Bearer {KEY}"},
        credential_attribute="api_key",
        secret=KEY,
        auth=auth,
        sleep=lambda seconds: None,
        exact_numbers=exact_numbers,
    )


def test_json_numbers_with_a_fraction_are_decimals_read_from_their_text(api: LoopbackApi) -> None:
    body = client(api.url).get("/amounts")
    assert body == {"amount": Decimal("98765.432109876543210987"), "small": Decimal("1E-13"), "count": 3, "name": "x"}
    assert [type(body[name]) for name in ("amount", "small", "count")] == [Decimal, Decimal, int]


def test_floats_when_exact_numbers_is_off(api: LoopbackApi) -> None:
    body = client(api.url, exact_numbers=False).get("/amounts")
    assert body == {"amount": 98765.43210987655, "small": 1e-13, "count": 3, "name": "x"}
    assert type(body["amount"]) is float


def test_repr_leaves_out_the_credential() -> None:
    text = repr(client("http://127.0.0.1:9", auth=(KEY, "")))
    assert KEY not in text
    assert text.startswith("ApiClient(source='Test API', base_url='http://127.0.0.1:9', credential_attribute='api_key'")
