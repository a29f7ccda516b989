"""The Terraform schema of costory_dashboard as the provider sends it to Terraform: flags, the widgets' nested
type down to a query's filters, and the widget kinds the API's enum and the proto's rule share."""

from __future__ import annotations

import json
from typing import cast

from google.protobuf.descriptor import FieldDescriptor

from control_plane.dashboards import WidgetKind
from costory_proto.costory.v1 import dashboard_pb2 as pb
from costory_schema.options import field_rules
from provider_shim import wire
from provider_shim.schema import provider_schema
from tests.control_plane.teams.test_teams_schema import USFU, C, O, R, flags


def test_dashboard_flags():
    """Every attribute updated in place (nothing forces replacement); the type of `widgets` is checked below."""
    marks = {name: flagged[1:] for name, flagged in flags("costory_dashboard").items()}
    assert marks == {
        "id": (C, USFU),
        "name": (R,),
        "description": (O, C, USFU),
        "widgets": (O,),
        "created_at": (C, USFU),
        "updated_at": (C,),
    }
    assert {flagged[0] for name, flagged in flags("costory_dashboard").items() if name != "widgets"} == {"string"}


def test_widgets_nested_type_down_to_the_filters():
    """Required attributes of each object are the proto's `required`; everything else in a query is optional, so
    a query written with only a preset reads back with the rest null."""
    attribute = next(
        a for a in wire.schema(provider_schema().resources["costory_dashboard"]).block.attributes if a.name == "widgets"
    )
    filters = ["list", ["object", {"field": "string", "operator": "string", "values": ["list", "string"]}]]
    query = {
        "group_by": ["list", "string"],
        "filters": filters,
        "granularity": "string",
        "metric": "string",
        "start_date": "string",
        "end_date": "string",
        "preset": "string",
        "compare": "bool",
        "top_n": "number",
        "with_quantity": "bool",
    }
    assert json.loads(attribute.type) == [
        "list",
        ["object", {"title": "string", "kind": "string", "query": ["object", query, sorted(query)]}],
    ]


def test_widget_kinds_are_the_protos_rule():
    assert [k.value for k in WidgetKind] == list(
        field_rules(cast(FieldDescriptor, pb.Widget.DESCRIPTOR.fields_by_name["kind"])).one_of
    )
