"""The Terraform schema of costory_team / costory_team_member, as the provider sends it to Terraform, against
the public provider's flags (/work/shared/reference/costory-provider.md), plus the plan modifiers we add."""

from __future__ import annotations

import json

from provider_shim import wire
from provider_shim.schema import provider_schema

R, O, C, RR, USFU = "R", "O", "C", "RR", "USFU"  # noqa: E741 - the letters of the reference table


def flags(type_name: str) -> dict[str, tuple[str, ...]]:
    """attribute -> its flags: type, then R/O/C from the wire schema, RR/USFU from the derived attribute."""
    terraform_type = provider_schema().resources[type_name]
    out = {}
    for a in wire.schema(terraform_type).block.attributes:
        derived = terraform_type.attribute(a.name)
        marks = (
            R if a.required else "",
            O if a.optional else "",
            C if a.computed else "",
            RR if derived.requires_replace else "",
            USFU if derived.use_state_for_unknown else "",
        )
        assert not a.sensitive, a.name
        out[a.name] = (json.loads(a.type), *(m for m in marks if m))
    return out


def test_team_flags():
    assert flags("costory_team") == {
        "id": ("string", C, USFU),
        "created_at": ("string", C, USFU),
        "updated_at": ("string", C),
        "name": ("string", R),
        "description": ("string", O, C, USFU),
        "visibility": ("string", O, C, USFU),
    }


def test_team_member_flags():
    assert flags("costory_team_member") == {
        "id": ("string", C, USFU),
        "team_id": ("string", R, RR),
        "user_id": ("string", O, RR),
        "email": ("string", O, RR),
        "role": ("string", O, C, RR, USFU),
    }
