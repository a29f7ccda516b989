"""Unit tests for the cty msgpack/JSON codec (provider_shim.cty)."""

from decimal import Decimal

import msgpack
import pytest

from provider_shim import cty
from provider_shim.cty import (
    BOOL,
    DYNAMIC,
    NUMBER,
    STRING,
    UNKNOWN,
    CtyError,
    DynamicValue,
    List,
    Map,
    MapKey,
    Object,
    Set,
    Tuple,
    Unknown,
)

RULE = Object.of(
    {"name": STRING, "weight": NUMBER, "enabled": BOOL, "gap_filling": STRING},
    optional={"weight", "gap_filling"},
)
RESOURCE = Object.of(
    {
        "id": STRING,
        "metrics_definition": List(RULE),
        "labels": Map(STRING),
        "tags": Set(STRING),
        "pair": Tuple((STRING, NUMBER)),
        "extra": DYNAMIC,
    },
    optional={"labels", "extra"},
)


def refined(payload: dict) -> bytes:
    """A refined unknown as Terraform sends it: extension 12 wrapping a msgpack map."""
    return msgpack.packb(msgpack.ExtType(12, msgpack.packb(payload)))


# --------------------------------------------------------------------------------------------------
# Types


@pytest.mark.parametrize(
    ("ty", "expected"),
    [
        (STRING, "string"),
        (NUMBER, "number"),
        (BOOL, "bool"),
        (DYNAMIC, "dynamic"),
        (List(STRING), ["list", "string"]),
        (Set(NUMBER), ["set", "number"]),
        (Map(BOOL), ["map", "bool"]),
        (Tuple((STRING, List(NUMBER))), ["tuple", ["string", ["list", "number"]]]),
        (Tuple(()), ["tuple", []]),
        (Object.of({"b": NUMBER, "a": STRING}), ["object", {"a": "string", "b": "number"}]),
        (
            Object.of({"c": STRING, "b": NUMBER, "a": BOOL}, optional={"c", "a"}),
            ["object", {"a": "bool", "b": "number", "c": "string"}, ["a", "c"]],
        ),
        (Object.of({}), ["object", {}]),
    ],
)
def test_type_json_round_trip(ty, expected):
    assert cty.type_to_json(ty) == expected
    assert cty.type_from_json(expected) == ty
    assert cty.type_from_json_bytes(cty.type_to_json_bytes(ty)) == ty


def test_type_to_json_bytes_is_compact_and_sorted():
    ty = Object.of({"z": List(Object.of({"y": STRING, "x": NUMBER}, optional={"y"})), "a": DYNAMIC})
    assert cty.type_to_json_bytes(ty) == (
        b'["object",{"a":"dynamic","z":["list",["object",{"x":"number","y":"string"},["y"]]]}]'
    )


def test_object_type_is_order_insensitive_and_hashable():
    first = Object.of({"a": STRING, "b": NUMBER}, optional={"b"})
    second = Object((("b", NUMBER), ("a", STRING)), frozenset({"b"}))
    assert first == second
    assert hash(first) == hash(second)
    assert first != Object.of({"a": STRING, "b": NUMBER})
    assert dict(first.attribute_types) == {"a": STRING, "b": NUMBER}
    assert first.attributes == (("a", STRING), ("b", NUMBER))
    assert List(STRING) != Set(STRING)
    assert {List(STRING), List(STRING), Map(STRING)} == {List(STRING), Map(STRING)}


def test_type_constructors_validate():
    with pytest.raises(ValueError, match="optional attributes"):
        Object.of({"a": STRING}, optional={"b"})
    with pytest.raises(TypeError):
        List("string")
    with pytest.raises(ValueError):
        cty.Primitive("integer")


@pytest.mark.parametrize(
    "bad",
    [
        "integer",
        ["list"],
        ["list", "string", "string"],
        ["object", {"a": "string"}, ["b"]],
        ["object", {"a": "string"}, "a"],
        ["tuple", "string"],
        ["frob", "string"],
        42,
    ],
)
def test_type_from_json_rejects(bad):
    with pytest.raises(CtyError):
        cty.type_from_json(bad)


# --------------------------------------------------------------------------------------------------
# msgpack round trips


ROUND_TRIPS = [
    (STRING, "héllo"),
    (STRING, ""),
    (NUMBER, 0),
    (NUMBER, -42),
    (NUMBER, 1.5),
    (BOOL, True),
    (BOOL, False),
    (STRING, None),
    (List(STRING), ["a", None, "c"]),
    (List(NUMBER), []),
    (Set(STRING), ["x", "y"]),
    (Map(NUMBER), {"a": 1, "b": None, "c": 2.25}),
    (Map(List(STRING)), {}),
    (Tuple((STRING, NUMBER, BOOL)), ["s", 3, None]),
    (Object.of({}), {}),
    (
        RESOURCE,
        {
            "id": "r-1",
            "metrics_definition": [
                {"name": "a", "weight": 1, "enabled": True, "gap_filling": None},
                {"name": "b", "weight": None, "enabled": False, "gap_filling": "zero"},
                None,
            ],
            "labels": {"env": "prod", "team": None},
            "tags": ["t1", "t2"],
            "pair": ["p", 0.5],
            "extra": DynamicValue(List(NUMBER), [1, 2]),
        },
    ),
    (RESOURCE, dict.fromkeys(RESOURCE.attribute_types)),
    (DYNAMIC, None),
    (DYNAMIC, DynamicValue(STRING, "x")),
    (DYNAMIC, DynamicValue(STRING, None)),
    (DYNAMIC, DynamicValue(Object.of({"a": Map(BOOL)}), {"a": {"k": True}})),
    (List(DYNAMIC), [DynamicValue(NUMBER, 1), None, DynamicValue(BOOL, True)]),
    (STRING, UNKNOWN),
    (List(Object.of({"a": STRING})), [{"a": UNKNOWN}, UNKNOWN]),
    (DYNAMIC, UNKNOWN),
    (DYNAMIC, DynamicValue(NUMBER, Unknown(not_null=True))),
]


@pytest.mark.parametrize(("ty", "value"), ROUND_TRIPS)
def test_msgpack_round_trip(ty, value):
    assert cty.decode_msgpack(cty.encode_msgpack(value, ty), ty) == value


def test_object_missing_attributes_encode_as_null_and_decode_to_none():
    ty = Object.of({"a": STRING, "b": NUMBER}, optional={"b"})
    data = cty.encode_msgpack({"a": "x"}, ty)
    assert data == msgpack.packb({"a": "x", "b": None})
    assert cty.decode_msgpack(msgpack.packb({"a": "x"}), ty) == {"a": "x", "b": None}


def test_python_set_and_tuple_are_accepted_for_sequences():
    assert cty.encode_msgpack({"b", "a"}, Set(STRING)) == msgpack.packb(["a", "b"])
    assert cty.encode_msgpack(("a", 1), Tuple((STRING, NUMBER))) == msgpack.packb(["a", 1])


# --------------------------------------------------------------------------------------------------
# msgpack exact bytes


def test_unknown_encodes_as_fixext1_zero():
    assert cty.encode_msgpack(UNKNOWN, STRING) == b"\xd4\x00\x00"
    assert cty.encode_msgpack(Unknown(), List(NUMBER)) == b"\xd4\x00\x00"


def test_null_encodes_as_nil():
    assert cty.encode_msgpack(None, RESOURCE) == b"\xc0"
    assert cty.encode_msgpack(None, DYNAMIC) == b"\xc0"


def test_object_attributes_are_written_in_sorted_order():
    data = cty.encode_msgpack({"b": 1, "a": "x"}, Object.of({"a": STRING, "b": NUMBER}))
    assert data == b"\x82\xa1a\xa1x\xa1b\x01"


def test_map_keys_are_written_in_sorted_order():
    assert cty.encode_msgpack({"z": True, "a": False}, Map(BOOL)) == b"\x82\xa1a\xc2\xa1z\xc3"


def test_dynamic_value_is_type_json_bytes_then_value():
    data = cty.encode_msgpack(DynamicValue(List(STRING), ["x"]), DYNAMIC)
    assert data == msgpack.packb([b'["list","string"]', ["x"]], use_bin_type=True)
    assert data == b'\x92\xc4\x11["list","string"]\x91\xa1x'


def test_dynamic_value_type_may_arrive_as_str():
    data = msgpack.packb(['"number"', 7], use_bin_type=True)
    assert cty.decode_msgpack(data, DYNAMIC) == DynamicValue(NUMBER, 7)


def test_dynamic_wrapping_dynamic_unwraps():
    data = msgpack.packb([b'"dynamic"', None], use_bin_type=True)
    assert cty.decode_msgpack(data, DYNAMIC) is None


def test_string_accepts_bin():
    assert cty.decode_msgpack(msgpack.packb(b"abc", use_bin_type=True), STRING) == "abc"


# --------------------------------------------------------------------------------------------------
# Unknown values and refinements


REFINEMENTS = [
    (STRING, Unknown(not_null=True), {1: False}),
    (STRING, Unknown(string_prefix="arn:"), {2: "arn:"}),
    (STRING, Unknown(not_null=True, string_prefix="arn:"), {1: False, 2: "arn:"}),
    (NUMBER, Unknown(number_lower=(0, True)), {3: [0, True]}),
    (NUMBER, Unknown(number_upper=(1.5, False)), {4: [1.5, False]}),
    (
        NUMBER,
        Unknown(not_null=True, number_lower=(-10, False), number_upper=(10, True)),
        {1: False, 3: [-10, False], 4: [10, True]},
    ),
    (List(STRING), Unknown(length_lower=1), {5: 1}),
    (Set(NUMBER), Unknown(length_upper=3), {6: 3}),
    (Map(STRING), Unknown(not_null=True, length_lower=2, length_upper=5), {1: False, 5: 2, 6: 5}),
    (Object.of({"a": STRING}), Unknown(not_null=True), {1: False}),
]


@pytest.mark.parametrize(("ty", "value", "payload"), REFINEMENTS)
def test_refined_unknown_encode_and_decode(ty, value, payload):
    assert cty.encode_msgpack(value, ty) == refined(payload)
    assert cty.decode_msgpack(refined(payload), ty) == value


def test_refined_unknown_literal_bytes():
    assert cty.encode_msgpack(Unknown(not_null=True), STRING) == b"\xc7\x03\x0c\x81\x01\xc2"


def test_refined_unknown_nested_in_object():
    ty = Object.of({"id": STRING, "n": NUMBER})
    value = {"id": Unknown(not_null=True), "n": 3}
    expected = msgpack.packb({"id": msgpack.ExtType(12, msgpack.packb({1: False})), "n": 3})
    assert cty.encode_msgpack(value, ty) == expected
    assert cty.decode_msgpack(expected, ty) == value


def test_big_number_bound_round_trips_as_string():
    value = Unknown(number_lower=(2**70, True))
    assert cty.encode_msgpack(value, NUMBER) == refined({3: [str(2**70), True]})
    assert cty.decode_msgpack(refined({3: [str(2**70), True]}), NUMBER) == value


@pytest.mark.parametrize("code", [0, 1, 5, 12, 127, 0x80, 0xFB])
@pytest.mark.parametrize("body", [b"", b"\x00", b"\xff"])
def test_short_extension_of_any_code_is_plain_unknown(code, body):
    # ext 8 header by hand: msgpack.ExtType refuses the negative codes (0x80..0xFF) msgpack allows.
    data = bytes([0xC7, len(body), code]) + body
    assert cty.decode_msgpack(data, STRING) == UNKNOWN
    assert cty.decode_msgpack(data, List(NUMBER)) == UNKNOWN


def test_refinements_on_dynamic_are_ignored():
    assert cty.decode_msgpack(refined({1: False, 2: "x"}), DYNAMIC) == UNKNOWN
    assert cty.encode_msgpack(Unknown(not_null=True), DYNAMIC) == b"\xd4\x00\x00"


def test_unrecognised_refinement_keys_are_ignored():
    assert cty.decode_msgpack(refined({1: False, 99: ["future"]}), STRING) == Unknown(not_null=True)


def test_empty_refinement_map_is_plain_unknown():
    # A zero-entry map is still a >1-byte payload if padded; trailing bytes are reserved and ignored.
    data = msgpack.packb(msgpack.ExtType(12, b"\x80\x00"))
    assert cty.decode_msgpack(data, STRING) == UNKNOWN


def test_definitely_null_refinement_collapses_to_null():
    assert cty.decode_msgpack(refined({1: True}), STRING) is None


def test_empty_string_prefix_is_no_refinement():
    assert cty.encode_msgpack(Unknown(string_prefix=""), STRING) == b"\xd4\x00\x00"
    assert cty.decode_msgpack(refined({2: "", 1: False}), STRING) == Unknown(not_null=True)


@pytest.mark.parametrize(
    ("ty", "data", "message"),
    [
        (NUMBER, refined({2: "x"}), "string prefix refinement for a number value"),
        (STRING, refined({3: [1, True]}), "number bound refinement for a string value"),
        (STRING, refined({5: 1}), "length refinement for a string value"),
        (Object.of({"a": STRING}), refined({6: 1}), "length refinement for a object value"),
        (STRING, refined({1: "no"}), "nullness refinement is not a bool"),
        (STRING, refined({2: 5}), "string prefix refinement is not a string"),
        (NUMBER, refined({3: 5}), r"must be a \[number, bool\] array"),
        (NUMBER, refined({3: [None, True]}), r"must be a \[number, bool\] array"),
        (List(STRING), refined({5: -1}), "not a non-negative integer"),
        (List(STRING), refined({5: True}), "not a non-negative integer"),
        (STRING, refined({"k": 1}), "non-integer key"),
        (STRING, msgpack.packb(msgpack.ExtType(12, msgpack.packb([1, 2]))), "not a map"),
        (STRING, msgpack.packb(msgpack.ExtType(12, b"\x81\x01")), "malformed unknown value refinement"),
        (STRING, msgpack.packb(msgpack.ExtType(3, b"\x81\x01\xc2")), "unsupported msgpack extension"),
        (STRING, msgpack.packb(msgpack.Timestamp(1)), "unsupported msgpack extension"),
    ],
)
def test_invalid_refinements_are_rejected(ty, data, message):
    with pytest.raises(CtyError, match=message):
        cty.decode_msgpack(data, ty)


def test_oversize_refinement_payload_is_rejected():
    data = refined({2: "p" * 1100})
    with pytest.raises(CtyError, match="oversize unknown value refinement"):
        cty.decode_msgpack(data, STRING)
    with pytest.raises(CtyError, match="exceed 1024 bytes"):
        cty.encode_msgpack(Unknown(string_prefix="p" * 1100), STRING)


def test_refinement_payload_of_exactly_1024_bytes_is_accepted():
    prefix = "p" * (1024 - 5)  # 0x81, key 0x02, str16 header (3 bytes), then the characters
    payload = msgpack.packb({2: prefix})
    assert len(payload) == 1024
    assert cty.decode_msgpack(msgpack.packb(msgpack.ExtType(12, payload)), STRING) == Unknown(string_prefix=prefix)


@pytest.mark.parametrize(
    ("ty", "value", "message"),
    [
        (NUMBER, Unknown(string_prefix="x"), "string prefix refinement on a number value"),
        (STRING, Unknown(number_upper=(1, True)), "number bound refinement on a string value"),
        (BOOL, Unknown(length_lower=1), "length refinement on a bool value"),
        (List(STRING), Unknown(length_lower=-1), "invalid length bound"),
    ],
)
def test_encoding_mismatched_refinement_is_rejected(ty, value, message):
    with pytest.raises(CtyError, match=message):
        cty.encode_msgpack(value, ty)


def test_is_known_and_is_wholly_known():
    assert cty.is_known("x") and cty.is_known(None) and cty.is_known([UNKNOWN])
    assert not cty.is_known(UNKNOWN)
    assert not cty.is_known(Unknown(not_null=True))
    assert not cty.is_known(DynamicValue(STRING, UNKNOWN))
    assert cty.is_wholly_known({"a": [1, {"b": None}]})
    assert not cty.is_wholly_known({"a": [1, {"b": UNKNOWN}]})
    assert not cty.is_wholly_known([DynamicValue(List(STRING), ["x", UNKNOWN])])
    assert cty.is_wholly_known(DynamicValue(List(STRING), ["x"]))


# --------------------------------------------------------------------------------------------------
# Numbers


def test_integral_number_is_int():
    assert cty.encode_msgpack(1, NUMBER) == b"\x01"
    value = cty.decode_msgpack(b"\x01", NUMBER)
    assert value == 1 and type(value) is int


def test_fractional_number_is_float():
    assert cty.encode_msgpack(1.5, NUMBER) == b"\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00"
    value = cty.decode_msgpack(b"\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00", NUMBER)
    assert value == 1.5 and type(value) is float


def test_integral_float_encodes_as_int_and_decodes_as_int():
    assert cty.encode_msgpack(3.0, NUMBER) == b"\x03"
    value = cty.decode_msgpack(msgpack.packb(3.0), NUMBER)
    assert value == 3 and type(value) is int


def test_int64_limits_are_msgpack_ints():
    assert cty.encode_msgpack(2**63 - 1, NUMBER) == msgpack.packb(2**63 - 1)
    assert cty.encode_msgpack(-(2**63), NUMBER) == msgpack.packb(-(2**63))
    assert cty.encode_msgpack(2**63, NUMBER) == msgpack.packb(str(2**63))


def test_big_integer_round_trips_through_string():
    data = cty.encode_msgpack(2**70, NUMBER)
    assert data == msgpack.packb("1180591620717411303424")
    value = cty.decode_msgpack(data, NUMBER)
    assert value == 2**70 and type(value) is int


def test_uint64_from_terraform_decodes():
    assert cty.decode_msgpack(msgpack.packb(2**64 - 1), NUMBER) == 2**64 - 1


def test_decimal_that_is_not_a_float_round_trips_as_string():
    data = cty.encode_msgpack(Decimal("0.1"), NUMBER)
    assert data == msgpack.packb("0.1")
    value = cty.decode_msgpack(data, NUMBER)
    assert value == Decimal("0.1") and type(value) is Decimal


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("2.5"), msgpack.packb(2.5)),
        (Decimal("7"), b"\x07"),
        (Decimal("100.000"), b"\x64"),
        (Decimal("1E+30"), msgpack.packb("1" + "0" * 30)),
        (Decimal("-123456789012345678901.5"), msgpack.packb("-123456789012345678901.5")),
        (float("inf"), msgpack.packb(float("inf"))),
        (float("-inf"), msgpack.packb(float("-inf"))),
    ],
)
def test_number_encodings(value, expected):
    assert cty.encode_msgpack(value, NUMBER) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", 12),
        ("-0.5", 0.5 * -1),
        ("1e3", 1000),
        ("12345678901234567890123.25", Decimal("12345678901234567890123.25")),
        ("0.1", Decimal("0.1")),
    ],
)
def test_number_strings_decode(text, expected):
    value = cty.decode_msgpack(msgpack.packb(text), NUMBER)
    assert value == expected and type(value) is type(expected)


def test_huge_exponent_stays_decimal():
    value = cty.decode_msgpack(msgpack.packb("1e100000"), NUMBER)
    assert value == Decimal("1e100000") and type(value) is Decimal


@pytest.mark.parametrize("bad", ["abc", "1_000", "NaN", "inf", " 1", ""])
def test_invalid_number_strings_are_rejected(bad):
    with pytest.raises(CtyError, match="invalid number"):
        cty.decode_msgpack(msgpack.packb(bad), NUMBER)


def test_nan_is_rejected():
    with pytest.raises(CtyError, match="NaN"):
        cty.encode_msgpack(float("nan"), NUMBER)
    with pytest.raises(CtyError, match="NaN"):
        cty.encode_msgpack(Decimal("NaN"), NUMBER)
    with pytest.raises(CtyError, match="NaN"):
        cty.decode_msgpack(msgpack.packb(float("nan")), NUMBER)


def test_bool_is_not_a_number_and_int_is_not_a_bool():
    with pytest.raises(CtyError, match="expected number, got bool"):
        cty.encode_msgpack(True, NUMBER)
    with pytest.raises(CtyError, match="expected bool, got int"):
        cty.encode_msgpack(1, BOOL)
    with pytest.raises(CtyError, match="expected number, got bool"):
        cty.decode_msgpack(msgpack.packb(True), NUMBER)
    with pytest.raises(CtyError, match="expected bool, got int"):
        cty.decode_msgpack(msgpack.packb(1), BOOL)


# --------------------------------------------------------------------------------------------------
# Errors name the path


def test_decode_error_names_the_path():
    data = msgpack.packb(
        {"metrics_definition": [{"name": "a"}, {"name": "b", "gap_filling": 3}]},
    )
    with pytest.raises(CtyError) as info:
        cty.decode_msgpack(data, RESOURCE)
    assert str(info.value) == "metrics_definition[1].gap_filling: expected string, got int"
    assert info.value.path == ("metrics_definition", 1, "gap_filling")
    assert isinstance(info.value, ValueError)


def test_encode_error_names_map_key_path():
    with pytest.raises(CtyError) as info:
        cty.encode_msgpack({"labels": {"env": 1}}, RESOURCE)
    assert str(info.value) == 'labels["env"]: expected string, got int'
    assert info.value.path == ("labels", MapKey("env"))


@pytest.mark.parametrize(
    ("ty", "data", "message"),
    [
        (RULE, msgpack.packb({"name": "a", "colour": "red"}), "^unexpected attribute 'colour'$"),
        (RULE, msgpack.packb(["a"]), "^expected object, got list$"),
        (List(STRING), msgpack.packb({"a": "b"}), "^expected list, got dict$"),
        (Set(STRING), msgpack.packb("a"), "^expected set, got str$"),
        (Map(STRING), msgpack.packb({1: "b"}), "^expected string key, got int$"),
        (Tuple((STRING, NUMBER)), msgpack.packb(["a"]), "^expected tuple of 2 elements, got 1$"),
        (DYNAMIC, msgpack.packb("x"), r"^dynamic value must be a \[type, value\] array$"),
        (DYNAMIC, msgpack.packb([b'"frob"', 1]), "^dynamic value: invalid primitive type name 'frob'$"),
        (DYNAMIC, msgpack.packb([b"{", 1]), "^dynamic value type is not valid JSON"),
        (STRING, b"\x92\x01", "^invalid msgpack"),
        (STRING, b"\x01\x02", "^invalid msgpack"),
        (STRING, b"\xa1\xff", "^invalid msgpack"),
        (Map(STRING), b"\x81\x91\x01\x02", "^invalid msgpack"),
    ],
)
def test_msgpack_decode_rejections(ty, data, message):
    with pytest.raises(CtyError, match=message):
        cty.decode_msgpack(data, ty)


@pytest.mark.parametrize(
    ("ty", "value", "message"),
    [
        (RULE, {"name": "a", "colour": "red"}, "^unexpected attribute 'colour'$"),
        (RULE, ["a"], "^expected object, got list$"),
        (List(STRING), "abc", "^expected list, got str$"),
        (List(STRING), {"a"}, "^expected list, got set$"),
        (Map(STRING), {1: "a"}, "^expected string key, got int$"),
        (Tuple((STRING,)), ["a", "b"], "^expected tuple of 1 elements, got 2$"),
        (DYNAMIC, "x", "^expected DynamicValue for a dynamic value, got str$"),
        (List(NUMBER), [1, "2"], r"^\[1\]: expected number, got str$"),
    ],
)
def test_msgpack_encode_rejections(ty, value, message):
    with pytest.raises(CtyError, match=message):
        cty.encode_msgpack(value, ty)


# --------------------------------------------------------------------------------------------------
# JSON (stored state)

STATE_JSON = (
    b'{"id":"r-1","metrics_definition":[{"name":"a","weight":0.1,"enabled":true},'
    b'{"name":"b","weight":12,"enabled":false,"gap_filling":"zero"}],'
    b'"labels":{"env":"prod"},"tags":["t1"],"pair":["p",100000000000000000000],'
    b'"extra":{"value":["x",null],"type":["tuple",["string","string"]]}}'
)
STATE_VALUE = {
    "extra": DynamicValue(Tuple((STRING, STRING)), ["x", None]),
    "id": "r-1",
    "labels": {"env": "prod"},
    "metrics_definition": [
        {"enabled": True, "gap_filling": None, "name": "a", "weight": Decimal("0.1")},
        {"enabled": False, "gap_filling": "zero", "name": "b", "weight": 12},
    ],
    "pair": ["p", 10**20],
    "tags": ["t1"],
}


def test_json_decode_state():
    value = cty.decode_json(STATE_JSON, RESOURCE)
    assert value == STATE_VALUE
    assert list(value) == sorted(value)
    assert type(value["metrics_definition"][1]["weight"]) is int


def test_json_encode_state():
    assert cty.encode_json(STATE_VALUE, RESOURCE) == (
        b'{"extra":{"value":["x",null],"type":["tuple",["string","string"]]},"id":"r-1",'
        b'"labels":{"env":"prod"},"metrics_definition":['
        b'{"enabled":true,"gap_filling":null,"name":"a","weight":0.1},'
        b'{"enabled":false,"gap_filling":"zero","name":"b","weight":12}],'
        b'"pair":["p",100000000000000000000],"tags":["t1"]}'
    )


@pytest.mark.parametrize(("ty", "value"), [rt for rt in ROUND_TRIPS if cty.is_wholly_known(rt[1])])
def test_json_round_trip(ty, value):
    assert cty.decode_json(cty.encode_json(value, ty), ty) == value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, b"1"),
        (1.5, b"1.5"),
        (3.0, b"3"),
        (2**70, b"1180591620717411303424"),
        (Decimal("0.1"), b"0.1"),
        (Decimal("1E+3"), b"1000"),
    ],
)
def test_json_numbers(value, expected):
    assert cty.encode_json(value, NUMBER) == expected
    assert cty.decode_json(expected, NUMBER) == value


def test_json_number_text_is_read_exactly():
    # A float is written in its shortest form, which reads back as that exact decimal (as in cty).
    assert cty.encode_json(1e-7, NUMBER) == b"1e-07"
    assert cty.decode_json(b"1e-07", NUMBER) == Decimal("1e-7")


def test_json_dynamic_null_and_non_ascii():
    assert cty.encode_json(None, DYNAMIC) == b"null"
    assert cty.decode_json(b"null", DYNAMIC) is None
    assert cty.encode_json({"k": "é\n"}, Map(STRING)) == '{"k":"é\\n"}'.encode()


def test_json_rejects_unknown_with_path():
    with pytest.raises(CtyError) as info:
        cty.encode_json({"metrics_definition": [{"name": UNKNOWN}]}, RESOURCE)
    assert str(info.value) == "metrics_definition[0].name: unknown values cannot be encoded as JSON"
    with pytest.raises(ValueError, match="unknown values cannot be encoded as JSON"):
        cty.encode_json(DynamicValue(STRING, Unknown(not_null=True)), DYNAMIC)


def test_json_rejects_infinity():
    with pytest.raises(CtyError, match="infinity"):
        cty.encode_json(float("inf"), NUMBER)


@pytest.mark.parametrize(
    ("ty", "data", "expected"),
    [
        (STRING, b"12", "12"),
        (STRING, b"1.50", "1.50"),
        (STRING, b"true", "true"),
        (NUMBER, b'"42"', 42),
        (NUMBER, b'"0.25"', 0.25),
        (BOOL, b'"false"', False),
    ],
)
def test_json_primitive_conversions_match_cty(ty, data, expected):
    value = cty.decode_json(data, ty)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("ty", "data", "message"),
    [
        (RULE, b'{"name":"a","colour":1}', "^unexpected attribute 'colour'$"),
        (List(RULE), b'[{"name":[1]}]', r"^\[0\].name: expected string, got list$"),
        (BOOL, b'"yes"', "^expected bool, got str$"),
        (NUMBER, b"NaN", "^invalid JSON"),
        (NUMBER, b"[1", "^invalid JSON"),
        (DYNAMIC, b'{"value":1}', "dynamic value must be"),
        (DYNAMIC, b'"x"', "dynamic value must be"),
        (DYNAMIC, b'{"value":1,"type":"string","extra":2}', "dynamic value must be"),
        (DYNAMIC, b'{"value":true,"type":"number"}', "^expected number, got bool$"),
    ],
)
def test_json_decode_rejections(ty, data, message):
    with pytest.raises(CtyError, match=message):
        cty.decode_json(data, ty)
