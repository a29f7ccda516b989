"""Teams and their members over REST: the same service functions and messages as TeamService (gRPC)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from control_plane.messages import to_data, to_json
from control_plane.rest.dependencies import ServicesDep, SessionDep, TenantDep, parse_body
from control_plane.rest.schemas import model_for
from control_plane.teams import service
from control_plane.teams.grpc import member_to_proto, to_proto
from control_plane.teams.models import Role, Visibility
from costory_proto.costory.v1 import team_pb2 as pb

router = APIRouter(prefix="/v1/teams", tags=["teams"])


class TeamCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    description: str | None = None
    """Empty when left out."""
    visibility: Visibility | None = None
    """PRIVATE when left out."""


class TeamPatch(BaseModel):
    """Only the fields sent change; a field sent as null goes back to its default."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    description: str | None = None
    visibility: Visibility | None = None


class TeamMemberCreate(BaseModel):
    """Exactly one of user_id and email."""

    model_config = ConfigDict(extra="forbid")
    user_id: str | None = None
    email: str | None = None
    role: Role | None = None
    """MEMBER when left out."""


TeamOut = model_for(pb.Team.DESCRIPTOR)
MemberOut = model_for(pb.TeamMember.DESCRIPTOR)


@router.get("", response_model=model_for(pb.ListTeamsResponse.DESCRIPTOR), response_model_exclude_none=True)
def list_teams(s: SessionDep, t: TenantDep, page_size: int = 0, page_token: str = ""):
    page = service.list_teams(s, t, page_size, page_token)
    return to_json(pb.ListTeamsResponse(teams=[to_proto(x) for x in page.items], next_page_token=page.next_page_token))


@router.post("", status_code=201, response_model=TeamOut, response_model_exclude_none=True)
def create_team(body: TeamCreate, services: ServicesDep, s: SessionDep, t: TenantDep):
    message = parse_body(body, pb.Team(), services)
    return to_json(to_proto(service.create_team(s, t, to_data(message))))


@router.get("/{team_id}", response_model=TeamOut, response_model_exclude_none=True)
def get_team(team_id: str, s: SessionDep, t: TenantDep):
    return to_json(to_proto(service.get_team(s, t, team_id)))


@router.patch("/{team_id}", response_model=TeamOut, response_model_exclude_none=True)
def update_team(team_id: str, body: TeamPatch, services: ServicesDep, s: SessionDep, t: TenantDep):
    """Change the fields sent (the update mask is the set of fields in the body)."""
    message = parse_body(body, pb.Team(), services)
    mask = [name for name in service.TEAM_FIELDS if name in body.model_fields_set]
    if not mask:
        return to_json(to_proto(service.get_team(s, t, team_id)))
    return to_json(to_proto(service.update_team(s, t, team_id, to_data(message), mask)))


@router.delete("/{team_id}", status_code=204, response_class=Response)
def delete_team(team_id: str, s: SessionDep, t: TenantDep):
    """Delete the team and its members."""
    service.delete_team(s, t, team_id)


@router.get(
    "/{team_id}/members",
    response_model=model_for(pb.ListTeamMembersResponse.DESCRIPTOR),
    response_model_exclude_none=True,
)
def list_members(team_id: str, s: SessionDep, t: TenantDep, page_size: int = 0, page_token: str = ""):
    page = service.page_members(s, t, team_id, page_size, page_token)
    return to_json(
        pb.ListTeamMembersResponse(
            team_members=[member_to_proto(m) for m in page.items], next_page_token=page.next_page_token
        )
    )


@router.post("/{team_id}/members", status_code=201, response_model=MemberOut, response_model_exclude_none=True)
def create_member(team_id: str, body: TeamMemberCreate, services: ServicesDep, s: SessionDep, t: TenantDep):
    message = parse_body(body, pb.TeamMember(team_id=team_id), services)
    return to_json(member_to_proto(service.create_member(s, t, to_data(message))))


@router.delete("/{team_id}/members/{member_id}", status_code=204, response_class=Response)
def delete_member(team_id: str, member_id: str, s: SessionDep, t: TenantDep):
    """``member_id`` is the member's `id` (`{team_id}:{user_id or email}`) or just its user id or email."""
    full_id = member_id if member_id.startswith(f"{team_id}:") else f"{team_id}:{member_id}"
    service.delete_member(s, t, full_id)
