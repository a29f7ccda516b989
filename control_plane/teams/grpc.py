"""TeamService over gRPC: messages in and out, the work in teams.service."""

from __future__ import annotations

from google.protobuf import empty_pb2
from sqlalchemy.orm import Session, sessionmaker

from control_plane.messages import rfc3339, to_data
from control_plane.models import Tenant
from control_plane.rpc import tenant_rpc
from control_plane.services import Services
from control_plane.teams import service
from control_plane.teams.models import Team, TeamMember
from costory_proto.costory.v1 import team_pb2 as pb
from costory_proto.costory.v1 import team_pb2_grpc


def to_proto(team: Team) -> pb.Team:
    return pb.Team(
        id=team.id,
        name=team.name,
        description=team.description,
        visibility=team.visibility,
        created_at=rfc3339(team.created_at),
        updated_at=rfc3339(team.updated_at),
    )


def member_to_proto(member: TeamMember) -> pb.TeamMember:
    message = pb.TeamMember(id=member.id, team_id=member.team_id, role=member.role)
    if member.user_id is not None:
        message.user_id = member.user_id
    if member.email is not None:
        message.email = member.email
    return message


class TeamServicer(team_pb2_grpc.TeamServiceServicer):
    def __init__(self, services: Services):
        self.sessions: sessionmaker[Session] = services.sessions

    @tenant_rpc
    def CreateTeam(self, request, session: Session, tenant: Tenant) -> pb.Team:
        return to_proto(service.create_team(session, tenant, to_data(request.team)))

    @tenant_rpc
    def GetTeam(self, request, session: Session, tenant: Tenant) -> pb.Team:
        return to_proto(service.get_team(session, tenant, request.id))

    @tenant_rpc
    def UpdateTeam(self, request, session: Session, tenant: Tenant) -> pb.Team:
        team = service.update_team(
            session, tenant, request.team.id, to_data(request.team), list(request.update_mask.paths)
        )
        return to_proto(team)

    @tenant_rpc
    def DeleteTeam(self, request, session: Session, tenant: Tenant) -> empty_pb2.Empty:
        service.delete_team(session, tenant, request.id)
        return empty_pb2.Empty()

    @tenant_rpc
    def ListTeams(self, request, session: Session, tenant: Tenant) -> pb.ListTeamsResponse:
        page = service.list_teams(session, tenant, request.page_size, request.page_token)
        return pb.ListTeamsResponse(teams=[to_proto(t) for t in page.items], next_page_token=page.next_page_token)

    @tenant_rpc
    def CreateTeamMember(self, request, session: Session, tenant: Tenant) -> pb.TeamMember:
        return member_to_proto(service.create_member(session, tenant, to_data(request.team_member)))

    @tenant_rpc
    def GetTeamMember(self, request, session: Session, tenant: Tenant) -> pb.TeamMember:
        return member_to_proto(service.get_member(session, tenant, request.id))

    @tenant_rpc
    def UpdateTeamMember(self, request, session: Session, tenant: Tenant) -> pb.TeamMember:
        service.update_member(session, tenant, request.team_member.id, list(request.update_mask.paths))

    @tenant_rpc
    def DeleteTeamMember(self, request, session: Session, tenant: Tenant) -> empty_pb2.Empty:
        service.delete_member(session, tenant, request.id)
        return empty_pb2.Empty()

    @tenant_rpc
    def ListTeamMembers(self, request, session: Session, tenant: Tenant) -> pb.ListTeamMembersResponse:
        page = service.page_members(session, tenant, request.team_id, request.page_size, request.page_token)
        return pb.ListTeamMembersResponse(
            team_members=[member_to_proto(m) for m in page.items], next_page_token=page.next_page_token
        )
