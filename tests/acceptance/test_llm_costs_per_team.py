"""The seed's second guide, runnable (examples/terraform/llm-costs-per-team): every AI source on loopback, the
real terraform CLI, one `team` dimension with a rule per source. The per-team totals across all sources equal the
sum of what the sources bill, to the cent, and each team's spend is where its provider attributes it."""

from __future__ import annotations

from decimal import Decimal

from devtools.llm_guide import run_guide
from devtools.local import start_moto


def test_ai_spend_per_team_adds_up_to_the_sources(tmp_path):
    moto = start_moto(tmp_path)
    try:
        result = run_guide(tmp_path, moto)
    finally:
        moto.stop()
    assert {source: r["status"] for source, r in result.imports.items()} == {
        "anthropic": "SUCCEEDED",
        "azure": "SUCCEEDED",
        "bedrock": "SUCCEEDED",
        "gcp": "SUCCEEDED",
        "openai": "SUCCEEDED",
    }
    # Two days of each source, as each bills it (see devtools/llm_guide.py for the data).
    assert result.source_bills == {
        "Anthropic": Decimal("36.8"),
        "OpenAI": Decimal("13.78"),
        "Microsoft Azure": Decimal("16.10"),
        "AWS": Decimal("3.5"),
        "Google Cloud": Decimal("8.40"),
    }
    table = [
        (r["team"], r["group"]["Provider"], r["group"].get("x_Model"), r["quantity"], r["cost"]) for r in result.rows
    ]
    assert table == [
        ("payments", "AWS", "Claude 3 Haiku", 6_800_000.0, "2.50"),
        ("payments", "Anthropic", "claude-sonnet-4-20250514", 4_800_000.0, "24.00"),
        ("payments", "Google Cloud", "gemini-2.5-flash", 8_600_000.0, "3.90"),
        ("payments", "Microsoft Azure", "gpt 4o 0513", 6_800_000.0, "11.50"),
        ("payments", "OpenAI", "gpt-4o-2024-08-06", 2_500_000.0, "10.00"),
        ("search", "AWS", "Claude 3 Haiku", 2_400_000.0, "1.00"),
        ("search", "Anthropic", "claude-3-5-haiku-20241022", 11_200_000.0, "12.80"),
        ("search", "Google Cloud", "gemini-2.5-pro", 2_200_000.0, "4.50"),
        ("search", "Microsoft Azure", "gpt 4o 0513", 2_720_000.0, "4.60"),
        ("search", "OpenAI", "gpt-4o-mini-2024-07-18", 21_800_000.0, "3.78"),
    ]
    assert result.per_team == {"payments": Decimal("51.90"), "search": Decimal("26.68")}
    assert sum(result.per_team.values()) == sum(result.source_bills.values()) == Decimal("78.58")
