"""Budgets, alerts and reports: rules over a scope's daily cost whose firing becomes a notification.

The models are imported here so that importing the package registers their tables on ``Base``.
"""

from control_plane.budgets.models import Alert, Budget, Report

__all__ = ["Alert", "Budget", "Report"]
