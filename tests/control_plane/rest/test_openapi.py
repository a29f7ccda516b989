"""The OpenAPI document is complete for every route, whoever added it: the bearer scheme where a token is taken,
every error response with the error body's schema, and for every schema derived from a proto message, the
`one_of` rules as enums, the `required` / `not_empty` fields as required, the .proto comments as descriptions."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from fastapi.testclient import TestClient

import costory_proto.costory.v1 as generated
from control_plane.rest.app import create_app
from control_plane.rest.schemas import proto_comments
from control_plane.services import build_services
from costory_schema.options import field_rules, is_repeated, terraform_attribute

ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def document(tmp_path_factory):
    from control_plane.db import migrate
    from control_plane.settings import Settings

    folder = tmp_path_factory.mktemp("openapi")
    settings = Settings(
        database_url=f"sqlite:///{folder / 'costory.db'}", trust_validation="skip", data_dir=folder / "data"
    )
    migrate(settings.database_url)
    services = build_services(settings)
    try:
        with TestClient(create_app(services)) as client:
            yield client.get("/openapi.json").json()
    finally:
        services.close()


def operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def test_every_api_operation_takes_the_bearer_token_and_lists_its_errors(document):
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A tenant's API token.",
    }
    seen = 0
    for path, method, operation in operations(document):
        responses = operation["responses"]
        where = f"{method.upper()} {path}"
        assert "422" not in responses, where
        for status in ("400", "500"):
            assert responses[status]["content"] == ERROR, where
        if not path.startswith("/v1/"):
            continue
        seen += 1
        assert operation.get("security") == [{"bearerAuth": []}], where
        assert not any(p["name"].lower() == "authorization" for p in operation.get("parameters", [])), where
        for status in ("401", "429", "503"):
            assert responses[status]["content"] == ERROR, where
        if "{" in path:
            assert responses["404"]["content"] == ERROR, where
        if "requestBody" in operation:
            assert {"404", "413"} <= set(responses), where
        if method in ("post", "put", "patch"):
            assert "409" in responses, where
    assert seen >= 20  # metrics, billing, dimensions, costs, teams and what is being added


def test_the_error_body_schema_is_what_the_edge_renders(document):
    schema = document["components"]["schemas"]["Error"]
    assert schema["required"] == ["detail"]
    listed = schema["properties"]["detail"]["anyOf"][1]["items"]
    assert listed["required"] == ["loc", "msg", "type"]
    assert "HTTPValidationError" not in document["components"]["schemas"]


def proto_messages():
    for module in pkgutil.iter_modules(generated.__path__):
        if module.name.endswith("_pb2"):
            descriptor = importlib.import_module(f"{generated.__name__}.{module.name}").DESCRIPTOR
            yield from _nested(descriptor.message_types_by_name.values())


def _nested(messages):
    for message in messages:
        yield message
        yield from _nested(message.nested_types)


def test_proto_rules_and_comments_drive_every_schema(document):
    """For every component schema named after a proto message: enums from `one_of`, required from `required` /
    `not_empty`, descriptions from the .proto comments."""
    schemas = document["components"]["schemas"]
    comments = proto_comments()
    checked = 0
    for message in proto_messages():
        schema = schemas.get(message.name)
        if schema is None or message.GetOptions().map_entry:
            continue
        checked += 1
        properties = schema["properties"]
        for field in message.fields:
            prop = properties[field.name]
            where = f"{message.full_name}.{field.name}"
            choices = list(field_rules(field).one_of)
            if choices:
                typed = prop["anyOf"][0]
                assert (typed["items"] if is_repeated(field) else typed)["enum"] == choices, where
            if comments.get(field.full_name):
                assert prop["description"] == comments[field.full_name], where
            required = terraform_attribute(field).required or field_rules(field).not_empty
            assert (field.name in schema.get("required", [])) == required, where
    assert checked >= 10


def test_the_cost_query_schema_by_hand(document):
    schemas = document["components"]["schemas"]
    query = schemas["CostQuery"]["properties"]
    assert query["granularity"]["anyOf"][0]["enum"] == ["DAY", "WEEK", "MONTH", "TOTAL"]
    assert query["metric"]["anyOf"][0]["enum"] == ["BILLED", "EFFECTIVE", "LIST"]
    assert query["preset"]["anyOf"][0]["enum"] == [
        "LAST_7_DAYS",
        "LAST_30_DAYS",
        "LAST_90_DAYS",
        "LAST_MONTH",
        "MONTH_TO_DATE",
        "QUARTER_TO_DATE",
        "YEAR_TO_DATE",
    ]
    assert query["end_date"]["description"] == "The last day read, YYYY-MM-DD (UTC, inclusive)."
    assert schemas["CostQuery"]["description"] == "What to read: the range, the grouping, the filters and the measure."
    assert schemas["QueryFilter"]["properties"]["operator"]["anyOf"][0]["enum"] == ["IN", "NOT_IN", "EQUALS", "PREFIX"]
    assert schemas["QueryFilter"]["required"] == ["field", "operator", "values"]
    assert schemas["QueryCostsRequest"]["required"] == ["query"]
    operation = document["paths"]["/v1/costs:query"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/QueryCostsRequest"
    }
