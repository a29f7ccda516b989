"""Team and team-member operations for one tenant; the gRPC servicer and the REST routes both call these.

Input is the plain-Python view of a ``Team`` / ``TeamMember`` message (``messages.to_data``): unset
optionals are absent. Every lookup is by tenant, so one tenant never sees another's teams.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

import sqlalchemy as sa
from sqlalchemy.orm import Session

from control_plane.errors import AlreadyExists, InvalidArgument, NotFound
from control_plane.findings import raise_errors
from control_plane.models import Tenant, utcnow
from control_plane.pagination import Page, page_of
from control_plane.teams.models import DEFAULT_ROLE, DEFAULT_VISIBILITY, Team, TeamMember
from costory_proto.costory.v1 import team_pb2
from costory_schema import rules
from costory_schema.problems import Problem

Data = Mapping[str, Any]
TEAM_FIELDS = ("name", "description", "visibility")
"""What an update may change: every configurable attribute of a team."""
MEMBER_FIELDS = ("team_id", "user_id", "email", "role")
MAX_LENGTHS = {"name": 200, "user_id": 200, "email": 254}
"""Column sizes, checked before the database sees them (254: the longest address SMTP carries)."""


def _too_long(data: Data) -> list[Problem]:
    return [
        Problem((name,), "Value Too Long", f"`{name}` has {len(value)} characters; at most {limit} are accepted.")
        for name, limit in MAX_LENGTHS.items()
        if isinstance(value := data.get(name), str) and len(value) > limit
    ]


# -- teams ------------------------------------------------------------------------------------------


def check_team(data: Data) -> list[Problem]:
    return rules.check(team_pb2.Team.DESCRIPTOR, data) + _too_long(data)


def create_team(session: Session, tenant: Tenant, data: Data) -> Team:
    raise_errors(check_team(data))
    now = utcnow()
    team = Team(
        id=f"team_{uuid.uuid4().hex}",
        tenant_id=tenant.id,
        name=data["name"],
        description=data.get("description") or "",
        visibility=data.get("visibility") or DEFAULT_VISIBILITY,
        created_at=now,
        updated_at=now,
    )
    session.add(team)
    session.flush()
    return team


def get_team(session: Session, tenant: Tenant, team_id: str) -> Team:
    team = session.scalar(sa.select(Team).where(Team.tenant_id == tenant.id, Team.id == team_id))
    if team is None:
        raise NotFound(f"team {team_id!r} not found")
    return team


def update_team(session: Session, tenant: Tenant, team_id: str, data: Data, update_mask: Sequence[str]) -> Team:
    """Replace the fields named in ``update_mask`` (all when empty); a named optional field absent from
    ``data`` goes back to its default (description empty, visibility PRIVATE)."""
    team = get_team(session, tenant, team_id)
    paths = list(dict.fromkeys(update_mask)) or list(TEAM_FIELDS)
    unknown = [p for p in paths if p not in TEAM_FIELDS]
    if unknown:
        allowed = ", ".join(f"`{f}`" for f in TEAM_FIELDS)
        raise InvalidArgument(
            [Problem((p,), "Invalid Update Mask", f"`{p}` cannot be updated; a team's {allowed} can.") for p in unknown]
        )
    current = {name: getattr(team, name) for name in TEAM_FIELDS}
    merged = {**current, **{p: data.get(p) for p in paths}}
    raise_errors(check_team({k: v for k, v in merged.items() if v is not None}))
    merged["description"] = merged["description"] or ""
    merged["visibility"] = merged["visibility"] or DEFAULT_VISIBILITY
    if merged != current:
        for name, value in merged.items():
            setattr(team, name, value)
        team.updated_at = utcnow()
    session.flush()
    return team


def delete_team(session: Session, tenant: Tenant, team_id: str) -> None:
    """Delete the team; its members go with it (ON DELETE CASCADE)."""
    session.delete(get_team(session, tenant, team_id))
    session.flush()


def list_teams(session: Session, tenant: Tenant, page_size: int = 0, page_token: str = "") -> Page:
    query = sa.select(Team).where(Team.tenant_id == tenant.id)
    return page_of(session, query, Team.created_at, Team.id, page_size, page_token)


# -- members ----------------------------------------------------------------------------------------


def member_id(team_id: str, user_id: str | None, email: str | None) -> str:
    return f"{team_id}:{user_id if user_id is not None else email}"


def check_member(data: Data) -> list[Problem]:
    """The proto's rules, then exactly one of ``user_id`` / ``email``."""
    problems = rules.check(team_pb2.TeamMember.DESCRIPTOR, data) + _too_long(data)
    has_user, has_email = data.get("user_id") is not None, data.get("email") is not None
    if has_user and has_email:
        problems.append(
            Problem(
                ("email",),
                "Conflicting Attributes",
                "`user_id` and `email` are both set; set exactly one of them to name the member.",
            )
        )
    elif not has_user and not has_email:
        problems.append(
            Problem(
                ("user_id",),
                "Missing Attribute",
                "Neither `user_id` nor `email` is set; set exactly one of them to name the member.",
            )
        )
    return problems


def create_member(session: Session, tenant: Tenant, data: Data) -> TeamMember:
    raise_errors(check_member(data))
    team = get_team(session, tenant, data["team_id"])
    user_id, email = data.get("user_id"), data.get("email")
    new_id = member_id(team.id, user_id, email)
    if session.get(TeamMember, new_id) is not None:
        who = f"user `{user_id}`" if user_id is not None else f"`{email}`"
        raise AlreadyExists(f"{who} is already a member of team {team.id!r} (member id {new_id!r}).")
    member = TeamMember(id=new_id, team_id=team.id, user_id=user_id, email=email, role=data.get("role") or DEFAULT_ROLE)
    session.add(member)
    session.flush()
    return member


def get_member(session: Session, tenant: Tenant, id_: str) -> TeamMember:
    """The member with id ``{team_id}:{user_id or email}`` (the form `terraform import` takes)."""
    team_id, sep, key = id_.partition(":")
    if not (team_id and sep and key):
        raise InvalidArgument(
            [
                Problem(
                    ("id",),
                    "Invalid Member Id",
                    f"`{id_}` is not a team member id; use `{{team_id}}:{{user_id}}` or `{{team_id}}:{{email}}`.",
                )
            ]
        )
    member = session.scalar(sa.select(TeamMember).join(Team).where(Team.tenant_id == tenant.id, TeamMember.id == id_))
    if member is None:
        raise NotFound(f"team member {id_!r} not found")
    return member


def update_member(session: Session, tenant: Tenant, id_: str, update_mask: Sequence[str]) -> NoReturn:
    """Always refused: a member's attributes are fixed (Terraform replaces the member instead)."""
    get_member(session, tenant, id_)
    paths = list(update_mask) or list(MEMBER_FIELDS)
    raise InvalidArgument(
        [
            Problem(
                (path,),
                "Immutable Field",
                f"`{path}` of a team member cannot be changed in place; delete the member and create it again.",
            )
            for path in paths
        ]
    )


def delete_member(session: Session, tenant: Tenant, id_: str) -> None:
    session.delete(get_member(session, tenant, id_))
    session.flush()


def _members_of(team: Team) -> sa.Select:
    return sa.select(TeamMember).where(TeamMember.team_id == team.id)


def list_members(session: Session, tenant: Tenant, team_id: str) -> list[TeamMember]:
    """Every member of the team, oldest first: what alerts and dashboards resolve a team to."""
    query = _members_of(get_team(session, tenant, team_id))
    return list(session.scalars(query.order_by(TeamMember.created_at, TeamMember.id)))


def page_members(session: Session, tenant: Tenant, team_id: str, page_size: int = 0, page_token: str = "") -> Page:
    """One page of the team's members, oldest first (the List APIs)."""
    query = _members_of(get_team(session, tenant, team_id))
    return page_of(session, query, TeamMember.created_at, TeamMember.id, page_size, page_token)
