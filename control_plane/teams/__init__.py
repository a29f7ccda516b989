"""Teams and their members: control-plane objects that alerts and dashboards name as recipients.

The models are imported here so that importing the package registers their tables on ``Base``.
"""

from control_plane.teams.models import Role, Team, TeamMember, Visibility

__all__ = ["Role", "Team", "TeamMember", "Visibility"]
