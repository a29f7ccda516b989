"""Helpers of the dashboard tests: virtual dimensions to name in queries, and widgets."""

from __future__ import annotations

import uuid

import pytest

from control_plane.models import Dimension
from costory_proto.costory.v1 import dashboard_pb2 as pb
from costory_proto.costory.v1 import query_pb2


@pytest.fixture
def add_dimension(sessions):
    """``add_dimension(tenant_id, name)`` -> the id of a (never computed) virtual dimension of that tenant."""

    def _add(tenant_id: str, name: str) -> str:
        dimension_id = f"dim_{uuid.uuid4().hex}"
        with sessions.begin() as session:
            session.add(
                Dimension(id=dimension_id, tenant_id=tenant_id, name=name, leftover_value="Unallocated", rules=[])
            )
        return dimension_id

    return _add


def widget(title: str = "Spend by team", kind: str = "STACKED_BAR", **query) -> pb.Widget:
    """A widget over the last 30 days unless the query says otherwise."""
    if "start_date" not in query and "preset" not in query:
        query["preset"] = "LAST_30_DAYS"
    return pb.Widget(title=title, kind=kind, query=query_pb2.CostQuery(**query))


def filter_(field: str, operator: str, *values: str) -> query_pb2.QueryFilter:
    return query_pb2.QueryFilter(field=field, operator=operator, values=values)
