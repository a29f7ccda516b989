"""Conversions every API surface shares: proto messages to the plain-Python view the services take, the
proto3 JSON the REST API returns, timestamps, and request days."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from control_plane.errors import InvalidArgument
from costory_schema.problems import Problem


def to_data(message: Message) -> dict[str, Any]:
    """The plain-Python view the services and the input rules take: proto field names, scalars without
    presence always present, unset optionals and messages absent."""
    return MessageToDict(message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


def to_json(message: Message) -> dict[str, Any]:
    """The proto3 JSON mapping of a message, with proto field names (what the REST API returns)."""
    return MessageToDict(message, preserving_proto_field_name=True)


def timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value if value.tzinfo else value.replace(tzinfo=UTC))
    return stamp


def rfc3339(value: datetime | None) -> str:
    """The proto3 JSON form of a timestamp (``2026-11-29T20:15:00.123456Z``): what Terraform state holds; "" for
    none."""
    stamp = timestamp(value)
    return stamp.ToJsonString() if stamp is not None else ""


FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)
"""The days a request may name: cost and usage data outside them cannot mean anything (and a day past
9999 cannot even be computed)."""


def parse_day(value: str, field: str) -> date:
    """A request's UTC day (YYYY-MM-DD) within FIRST_DAY..LAST_DAY; InvalidArgument naming ``field`` otherwise."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidArgument(
            [Problem((field,), "Invalid Date", f"`{field}` is `{value}`; use a UTC day as YYYY-MM-DD.")]
        ) from None
    return check_day(day, field)


def check_day(day: date, field: str) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidArgument(
            [Problem((field,), "Date Out Of Range", f"`{field}` is {day}; use a day from {FIRST_DAY} to {LAST_DAY}.")]
        )
    return day
