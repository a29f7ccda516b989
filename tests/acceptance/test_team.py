"""costory_team and costory_team_member driven through the real terraform CLI, step by step."""

from __future__ import annotations

import sqlite3

from costory_proto.costory.v1 import team_pb2 as pb
from costory_proto.costory.v1 import team_pb2_grpc as pb_grpc
from tests.acceptance.test_metrics_datasource import PROVIDER, resource_actions

TEAM = "costory_team.platform"
BY_USER = "costory_team_member.by_user"
BY_EMAIL = "costory_team_member.by_email"
OWNER = "costory_team_member.owner"


def config(team_body: str = 'name = "Platform"') -> str:
    return (
        PROVIDER
        + f"""
resource "costory_team" "platform" {{
  {team_body}
}}

resource "costory_team_member" "by_user" {{
  team_id = costory_team.platform.id
  user_id = "u-123"
}}

resource "costory_team_member" "by_email" {{
  team_id = costory_team.platform.id
  email   = "ada@example.com"
}}

resource "costory_team_member" "owner" {{
  team_id = costory_team.platform.id
  user_id = "grace"
  role    = "OWNER"
}}
"""
    )


UPDATED = 'name = "Platform Engineering"\n  description = "Runs the clusters"'


def rows(control_plane, table: str) -> int:
    path = control_plane.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def reimport(terraform, address: str, import_id: str) -> None:
    """`state rm` then `terraform import`: the state must come back exactly and the next plan be empty."""
    before = terraform.resources()[address]
    terraform.run("state", "rm", address)
    terraform.run("import", address, import_id)
    assert terraform.resources()[address] == before
    assert terraform.plan_exit_code() == 0


def test_lifecycle(terraform, control_plane, tenant_token):
    # 1. create a team and three members; a second plan is empty
    terraform.write(config())
    terraform.init()
    assert terraform.plan_exit_code() == 2
    terraform.apply()
    assert terraform.plan_exit_code() == 0
    state = terraform.resources()
    team = state[TEAM]
    team_id = team["id"]
    assert team_id.startswith("team_")
    assert (team["name"], team["description"], team["visibility"]) == ("Platform", "", "PRIVATE")
    assert team["created_at"] == team["updated_at"] and team["created_at"].endswith("Z")
    assert state[BY_USER] == {
        "id": f"{team_id}:u-123",
        "team_id": team_id,
        "user_id": "u-123",
        "email": None,
        "role": "MEMBER",
    }
    assert state[BY_EMAIL] == {
        "id": f"{team_id}:ada@example.com",
        "team_id": team_id,
        "user_id": None,
        "email": "ada@example.com",
        "role": "MEMBER",
    }
    assert (state[OWNER]["id"], state[OWNER]["role"]) == (f"{team_id}:grace", "OWNER")

    # 2. name and description change in place; the members are untouched
    terraform.write(config(UPDATED))
    assert resource_actions(terraform.plan_json()) == {
        TEAM: ["update"],
        BY_USER: ["no-op"],
        BY_EMAIL: ["no-op"],
        OWNER: ["no-op"],
    }
    terraform.apply()
    assert terraform.plan_exit_code() == 0
    updated = terraform.resources()[TEAM]
    assert (updated["id"], updated["name"], updated["description"], updated["visibility"]) == (
        team_id,
        "Platform Engineering",
        "Runs the clusters",
        "PRIVATE",
    )
    assert updated["created_at"] == team["created_at"] and updated["updated_at"] > team["updated_at"]

    # 3. import: the team by id, members by {team_id}:{user_id} and {team_id}:{email}
    reimport(terraform, TEAM, team_id)
    reimport(terraform, BY_USER, f"{team_id}:u-123")
    reimport(terraform, OWNER, f"{team_id}:grace")
    reimport(terraform, BY_EMAIL, f"{team_id}:ada@example.com")

    # 4. the team deleted outside Terraform (its members with it): the next plan creates all four again
    metadata = (("authorization", f"Bearer {tenant_token}"),)
    pb_grpc.TeamServiceStub(control_plane.channel()).DeleteTeam(pb.DeleteTeamRequest(id=team_id), metadata=metadata)
    assert rows(control_plane, "team_members") == 0
    assert resource_actions(terraform.plan_json()) == {
        TEAM: ["create"],
        BY_USER: ["create"],
        BY_EMAIL: ["create"],
        OWNER: ["create"],
    }
    terraform.apply()
    recreated = terraform.resources()
    assert recreated[TEAM]["id"] != team_id
    assert recreated[BY_USER]["id"] == f"{recreated[TEAM]['id']}:u-123"
    assert terraform.plan_exit_code() == 0

    # 5. destroy leaves no rows behind
    terraform.run("destroy", "-auto-approve", "-input=false")
    assert terraform.resources() == {}
    assert (rows(control_plane, "teams"), rows(control_plane, "team_members")) == (0, 0)


def test_member_needs_exactly_one_of_user_id_and_email(terraform):
    terraform.write(
        PROVIDER
        + """
resource "costory_team" "t" {
  name = "T"
}

resource "costory_team_member" "both" {
  team_id = costory_team.t.id
  user_id = "u-1"
  email   = "u1@example.com"
}

resource "costory_team_member" "neither" {
  team_id = costory_team.t.id
}
"""
    )
    terraform.init()
    result = terraform.run("apply", "-auto-approve", "-input=false", check=False)
    assert result.returncode == 1
    errors = " ".join(result.stderr.split())
    assert "`user_id` and `email` are both set; set exactly one of them to name the member." in errors
    assert "Neither `user_id` nor `email` is set; set exactly one of them to name the member." in errors
    assert set(terraform.resources()) == {"costory_team.t"}
    terraform.run("destroy", "-auto-approve", "-input=false")
