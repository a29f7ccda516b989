"""Teams and team members, on the control plane's one ``Base``."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from control_plane.models import Base, utcnow


class Visibility(enum.StrEnum):
    """Who may see a team (the proto's `visibility` one_of; a test keeps them equal)."""

    PRIVATE = "PRIVATE"
    PUBLIC = "PUBLIC"


class Role(enum.StrEnum):
    """A member's role in a team (the proto's `role` one_of)."""

    OWNER = "OWNER"
    MEMBER = "MEMBER"


DEFAULT_VISIBILITY = Visibility.PRIVATE
DEFAULT_ROLE = Role.MEMBER


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    visibility: Mapped[str] = mapped_column(sa.String(16), default=DEFAULT_VISIBILITY.value)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    members: Mapped[list[TeamMember]] = relationship(
        back_populates="team", cascade="all, delete-orphan", passive_deletes=True, lazy="raise"
    )


class TeamMember(Base):
    __tablename__ = "team_members"
    __table_args__ = (sa.CheckConstraint("(user_id IS NULL) <> (email IS NULL)", name="ck_team_members_user_or_email"),)

    id: Mapped[str] = mapped_column(sa.String(400), primary_key=True)
    """``{team_id}:{user_id or email}``: one person once per team, and the id `terraform import` takes."""
    team_id: Mapped[str] = mapped_column(sa.ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str | None] = mapped_column(sa.String(200))
    """An opaque user id (no user directory here); exactly one of user_id / email is set."""
    email: Mapped[str | None] = mapped_column(sa.String(254))
    role: Mapped[str] = mapped_column(sa.String(16), default=DEFAULT_ROLE.value)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    team: Mapped[Team] = relationship(back_populates="members", lazy="raise")
