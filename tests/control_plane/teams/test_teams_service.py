"""teams.service called directly, as alerts and dashboards will: list_members, and the enums that mirror the
proto's rules."""

from __future__ import annotations

from typing import cast

import pytest
from google.protobuf.descriptor import FieldDescriptor

from control_plane.errors import NotFound
from control_plane.models import Tenant
from control_plane.teams import Role, Visibility, service
from control_plane.teams.models import DEFAULT_ROLE, DEFAULT_VISIBILITY
from control_plane.tenants.service import create_tenant
from costory_proto.costory.v1 import team_pb2
from costory_schema.options import field_rules


def test_enums_are_the_protos_one_of_and_defaults_are_documented_ones():
    visibility = cast(FieldDescriptor, team_pb2.Team.DESCRIPTOR.fields_by_name["visibility"])
    assert list(field_rules(visibility).one_of) == [v.value for v in Visibility] == ["PRIVATE", "PUBLIC"]
    roles = field_rules(cast(FieldDescriptor, team_pb2.TeamMember.DESCRIPTOR.fields_by_name["role"])).one_of
    assert list(roles) == [r.value for r in Role] == ["OWNER", "MEMBER"]
    assert (DEFAULT_VISIBILITY, DEFAULT_ROLE) == ("PRIVATE", "MEMBER")


def test_list_members_returns_every_member_oldest_first_for_the_tenant_only(sessions):
    with sessions.begin() as session:
        a, _ = create_tenant(session, "A")
        b, _ = create_tenant(session, "B")
        team = service.create_team(session, a, {"name": "SRE"})
        for i in range(60):  # more than one API page (50)
            service.create_member(session, a, {"team_id": team.id, "user_id": f"u{i:02d}"})
        service.create_member(session, a, {"team_id": team.id, "email": "ada@example.com", "role": "OWNER"})
        other = service.create_team(session, a, {"name": "Other"})
        service.create_member(session, a, {"team_id": other.id, "user_id": "elsewhere"})
        team_id, a_id, b_id = team.id, a.id, b.id

    with sessions.begin() as session:
        a, b = session.get(Tenant, a_id), session.get(Tenant, b_id)
        members = service.list_members(session, a, team_id)
        assert [(m.user_id, m.email, m.role) for m in members] == [
            *[(f"u{i:02d}", None, "MEMBER") for i in range(60)],
            (None, "ada@example.com", "OWNER"),
        ]
        with pytest.raises(NotFound, match=f"team '{team_id}' not found"):
            service.list_members(session, b, team_id)
