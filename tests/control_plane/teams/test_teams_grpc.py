"""TeamService over gRPC on 127.0.0.1: teams and members, input rules naming the attribute, defaults, the
update mask, the member id form import takes, delete cascade and tenant isolation."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf import field_mask_pb2

from control_plane.teams import TeamMember
from costory_proto.costory.v1 import team_pb2 as pb
from costory_proto.costory.v1 import team_pb2_grpc
from tests.control_plane.metrics.test_metrics_grpc import field_violations


def stub(client) -> team_pb2_grpc.TeamServiceStub:
    return team_pb2_grpc.TeamServiceStub(client.channel)


def create_team(client, **fields) -> pb.Team:
    return stub(client).CreateTeam(pb.CreateTeamRequest(team=pb.Team(**{"name": "Platform", **fields})))


def add_member(client, team_id: str, **fields) -> pb.TeamMember:
    return stub(client).CreateTeamMember(
        pb.CreateTeamMemberRequest(team_member=pb.TeamMember(team_id=team_id, **fields))
    )


def update(client, team: pb.Team, *paths: str) -> pb.Team:
    return stub(client).UpdateTeam(pb.UpdateTeamRequest(team=team, update_mask=field_mask_pb2.FieldMask(paths=paths)))


def member_ids(client, team_id: str) -> list[str]:
    response = stub(client).ListTeamMembers(pb.ListTeamMembersRequest(team_id=team_id))
    return [m.id for m in response.team_members]


def refused(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


class TestCreateTeam:
    def test_defaults_when_unset_private_and_empty_description(self, tenant_a):
        team = create_team(tenant_a)
        assert team.id.startswith("team_") and len(team.id) == len("team_") + 32
        assert (team.name, team.description, team.visibility) == ("Platform", "", "PRIVATE")
        assert (team.HasField("description"), team.HasField("visibility")) == (True, True)
        assert team.created_at.endswith("Z") and datetime.fromisoformat(team.created_at).tzinfo == UTC
        assert team.updated_at == team.created_at
        assert stub(tenant_a).GetTeam(pb.GetTeamRequest(id=team.id)) == team

    def test_given_values_are_kept(self, tenant_a):
        team = create_team(tenant_a, description="Runs the clusters", visibility="PUBLIC")
        assert (team.description, team.visibility) == ("Runs the clusters", "PUBLIC")

    @pytest.mark.parametrize(
        ("fields", "violations"),
        [
            pytest.param({"name": ""}, [("name", "`name` must not be empty.")], id="empty-name"),
            pytest.param(
                {"visibility": "public"},
                [("visibility", "`visibility` is `public`; it must be one of `PRIVATE`, `PUBLIC` (case-sensitive).")],
                id="visibility-case",
            ),
            pytest.param(
                {"name": "x" * 201},
                [("name", "`name` has 201 characters; at most 200 are accepted.")],
                id="name-too-long",
            ),
        ],
    )
    def test_invalid_input_names_the_attribute(self, tenant_a, fields, violations):
        error = refused(lambda: create_team(tenant_a, **fields))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field_violations(error) == violations


class TestUpdateTeam:
    def test_mask_changes_only_the_named_fields_and_bumps_updated_at(self, tenant_a):
        team = create_team(tenant_a, description="old", visibility="PUBLIC")
        updated = update(tenant_a, pb.Team(id=team.id, name="Infra", description="ignored"), "name")
        assert (updated.name, updated.description, updated.visibility) == ("Infra", "old", "PUBLIC")
        assert updated.created_at == team.created_at
        assert datetime.fromisoformat(updated.updated_at) > datetime.fromisoformat(team.updated_at)

    def test_a_named_optional_left_unset_goes_back_to_its_default(self, tenant_a):
        team = create_team(tenant_a, description="old", visibility="PUBLIC")
        updated = update(tenant_a, pb.Team(id=team.id), "description", "visibility")
        assert (updated.name, updated.description, updated.visibility) == ("Platform", "", "PRIVATE")

    def test_empty_mask_replaces_every_field(self, tenant_a):
        team = create_team(tenant_a, description="old")
        updated = update(tenant_a, pb.Team(id=team.id, name="Data", visibility="PUBLIC"))
        assert (updated.name, updated.description, updated.visibility) == ("Data", "", "PUBLIC")

    def test_no_change_keeps_updated_at(self, tenant_a):
        team = create_team(tenant_a, description="same")
        again = update(tenant_a, pb.Team(id=team.id, name="Platform", description="same"), "name", "description")
        assert again.updated_at == team.updated_at

    def test_unknown_mask_path_and_bad_value_are_refused(self, tenant_a):
        team = create_team(tenant_a)
        error = refused(lambda: update(tenant_a, pb.Team(id=team.id), "created_at"))
        assert field_violations(error) == [
            ("created_at", "`created_at` cannot be updated; a team's `name`, `description`, `visibility` can.")
        ]
        error = refused(lambda: update(tenant_a, pb.Team(id=team.id), "name"))
        assert field_violations(error) == [("name", "`name` must not be empty.")]
        assert stub(tenant_a).GetTeam(pb.GetTeamRequest(id=team.id)).name == "Platform"


class TestMembers:
    def test_by_user_id_and_by_email_with_role_default(self, tenant_a):
        team = create_team(tenant_a)
        by_user = add_member(tenant_a, team.id, user_id="u-123")
        by_email = add_member(tenant_a, team.id, email="ada@example.com", role="OWNER")
        assert by_user == pb.TeamMember(id=f"{team.id}:u-123", team_id=team.id, user_id="u-123", role="MEMBER")
        assert not by_user.HasField("email")
        assert by_email == pb.TeamMember(
            id=f"{team.id}:ada@example.com", team_id=team.id, email="ada@example.com", role="OWNER"
        )
        assert member_ids(tenant_a, team.id) == [by_user.id, by_email.id]

    def test_get_takes_the_import_id_forms(self, tenant_a):
        team = create_team(tenant_a)
        add_member(tenant_a, team.id, user_id="u:with:colons")
        add_member(tenant_a, team.id, email="ada@example.com")
        got = stub(tenant_a).GetTeamMember(pb.GetTeamMemberRequest(id=f"{team.id}:u:with:colons"))
        assert (got.user_id, got.role) == ("u:with:colons", "MEMBER")
        got = stub(tenant_a).GetTeamMember(pb.GetTeamMemberRequest(id=f"{team.id}:ada@example.com"))
        assert got.email == "ada@example.com"
        error = refused(lambda: stub(tenant_a).GetTeamMember(pb.GetTeamMemberRequest(id=team.id)))
        assert field_violations(error) == [
            ("id", f"`{team.id}` is not a team member id; use `{{team_id}}:{{user_id}}` or `{{team_id}}:{{email}}`.")
        ]
        error = refused(lambda: stub(tenant_a).GetTeamMember(pb.GetTeamMemberRequest(id=f"{team.id}:nobody")))
        assert (error.code(), error.details()) == (
            grpc.StatusCode.NOT_FOUND,
            f"team member '{team.id}:nobody' not found",
        )

    @pytest.mark.parametrize(
        ("fields", "violations"),
        [
            pytest.param(
                {"user_id": "u-1", "email": "ada@example.com"},
                [("email", "`user_id` and `email` are both set; set exactly one of them to name the member.")],
                id="both",
            ),
            pytest.param(
                {},
                [("user_id", "Neither `user_id` nor `email` is set; set exactly one of them to name the member.")],
                id="neither",
            ),
            pytest.param(
                {"email": "not-an-email"},
                [("email", "`email` is `not-an-email`; it must be an email address such as `name@example.com`.")],
                id="email-shape",
            ),
            pytest.param({"user_id": " "}, [("user_id", "`user_id` must not be empty.")], id="blank-user-id"),
            pytest.param(
                {"user_id": "u-1", "role": "ADMIN"},
                [("role", "`role` is `ADMIN`; it must be one of `OWNER`, `MEMBER` (case-sensitive).")],
                id="role",
            ),
        ],
    )
    def test_invalid_member_names_the_attributes(self, tenant_a, fields, violations):
        team = create_team(tenant_a)
        error = refused(lambda: add_member(tenant_a, team.id, **fields))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field_violations(error) == violations
        assert member_ids(tenant_a, team.id) == []

    def test_duplicate_member_is_already_exists(self, tenant_a):
        team = create_team(tenant_a)
        add_member(tenant_a, team.id, user_id="u-1")
        error = refused(lambda: add_member(tenant_a, team.id, user_id="u-1", role="OWNER"))
        assert (error.code(), error.details()) == (
            grpc.StatusCode.ALREADY_EXISTS,
            f"user `u-1` is already a member of team '{team.id}' (member id '{team.id}:u-1').",
        )
        add_member(tenant_a, create_team(tenant_a, name="Other").id, user_id="u-1")  # another team: fine

    def test_update_is_refused_with_what_to_do(self, tenant_a):
        team = create_team(tenant_a)
        member = add_member(tenant_a, team.id, user_id="u-1")
        request = pb.UpdateTeamMemberRequest(
            team_member=pb.TeamMember(id=member.id, role="OWNER"), update_mask=field_mask_pb2.FieldMask(paths=["role"])
        )
        error = refused(lambda: stub(tenant_a).UpdateTeamMember(request))
        assert field_violations(error) == [
            ("role", "`role` of a team member cannot be changed in place; delete the member and create it again.")
        ]
        assert stub(tenant_a).GetTeamMember(pb.GetTeamMemberRequest(id=member.id)).role == "MEMBER"

    def test_delete_member_then_delete_again_is_not_found(self, tenant_a):
        team = create_team(tenant_a)
        member = add_member(tenant_a, team.id, user_id="u-1")
        stub(tenant_a).DeleteTeamMember(pb.DeleteTeamMemberRequest(id=member.id))
        assert member_ids(tenant_a, team.id) == []
        error = refused(lambda: stub(tenant_a).DeleteTeamMember(pb.DeleteTeamMemberRequest(id=member.id)))
        assert error.code() == grpc.StatusCode.NOT_FOUND


class TestDeleteTeam:
    def test_deleting_a_team_deletes_its_members(self, tenant_a, sessions):
        team = create_team(tenant_a)
        other = create_team(tenant_a, name="Other")
        add_member(tenant_a, team.id, user_id="u-1")
        add_member(tenant_a, team.id, email="ada@example.com")
        kept = add_member(tenant_a, other.id, user_id="u-1")
        stub(tenant_a).DeleteTeam(pb.DeleteTeamRequest(id=team.id))
        with sessions() as session:
            assert list(session.scalars(sa.select(TeamMember.id))) == [kept.id]
        error = refused(lambda: stub(tenant_a).GetTeam(pb.GetTeamRequest(id=team.id)))
        assert (error.code(), error.details()) == (grpc.StatusCode.NOT_FOUND, f"team '{team.id}' not found")


class TestTenantIsolation:
    def test_another_tenant_sees_nothing_and_changes_nothing(self, tenant_a, tenant_b):
        team = create_team(tenant_a)
        member = add_member(tenant_a, team.id, user_id="u-1")
        b = stub(tenant_b)
        calls = {
            "GetTeam": lambda: b.GetTeam(pb.GetTeamRequest(id=team.id)),
            "UpdateTeam": lambda: update(tenant_b, pb.Team(id=team.id, name="Mine"), "name"),
            "DeleteTeam": lambda: b.DeleteTeam(pb.DeleteTeamRequest(id=team.id)),
            "ListTeamMembers": lambda: b.ListTeamMembers(pb.ListTeamMembersRequest(team_id=team.id)),
            "CreateTeamMember": lambda: add_member(tenant_b, team.id, user_id="intruder"),
            "GetTeamMember": lambda: b.GetTeamMember(pb.GetTeamMemberRequest(id=member.id)),
            "DeleteTeamMember": lambda: b.DeleteTeamMember(pb.DeleteTeamMemberRequest(id=member.id)),
        }
        codes = {name: refused(call).code() for name, call in calls.items()}
        assert codes == dict.fromkeys(calls, grpc.StatusCode.NOT_FOUND)
        assert list(b.ListTeams(pb.ListTeamsRequest()).teams) == []
        assert [t.name for t in stub(tenant_a).ListTeams(pb.ListTeamsRequest()).teams] == ["Platform"]
        assert member_ids(tenant_a, team.id) == [member.id]


class TestListTeams:
    def test_pages_oldest_first(self, tenant_a):
        names = ["a", "b", "c"]
        for name in names:
            create_team(tenant_a, name=name)
        first = stub(tenant_a).ListTeams(pb.ListTeamsRequest(page_size=2))
        second = stub(tenant_a).ListTeams(pb.ListTeamsRequest(page_size=2, page_token=first.next_page_token))
        assert ([t.name for t in first.teams], [t.name for t in second.teams]) == (["a", "b"], ["c"])
        assert second.next_page_token == ""

    def test_unauthenticated_without_a_token(self, connect):
        from costory_proto.costory.v1 import team_pb2_grpc as g

        connect()
        error = refused(lambda: g.TeamServiceStub(connect.channels[-1]).ListTeams(pb.ListTeamsRequest()))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
