"""Saved dashboards: named, ordered lists of widgets, each a saved cost query and how to draw it.

The model is imported here so that importing the package registers its table on ``Base``.
"""

from control_plane.dashboards.models import Dashboard, WidgetKind

__all__ = ["Dashboard", "WidgetKind"]
