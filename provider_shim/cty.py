"""cty value codec for the Terraform plugin protocol (v6).

Terraform exchanges values in the two encodings defined by go-cty: "cty msgpack" (``DynamicValue.msgpack``
for config, plan and state) and "cty JSON" (``RawState.json``, the stored state). Neither is
self-describing (a map looks like an object, a set like a list, a missing attribute like a null), so every
function here takes the cty type the value must conform to, normally derived from our schema.

Values are plain Python: ``None``, ``str``, ``bool``, ``int``/``float``/``Decimal``, ``list`` (list, set,
tuple) and ``dict`` (map, object), plus ``Unknown`` for values Terraform will only know after apply and
``DynamicValue`` for DYNAMIC-typed values, which travel with their own type.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import FrozenInstanceError
from decimal import Decimal, InvalidOperation
from functools import cached_property
from types import MappingProxyType
from typing import Any

import msgpack

__all__ = [
    "BOOL",
    "DYNAMIC",
    "NUMBER",
    "STRING",
    "UNKNOWN",
    "CtyError",
    "Dynamic",
    "DynamicValue",
    "List",
    "Map",
    "MapKey",
    "Object",
    "Primitive",
    "Set",
    "Tuple",
    "Type",
    "Unknown",
    "decode_json",
    "decode_msgpack",
    "encode_json",
    "encode_msgpack",
    "format_path",
    "is_known",
    "is_wholly_known",
    "type_from_json",
    "type_from_json_bytes",
    "type_to_json",
    "type_to_json_bytes",
]


# --------------------------------------------------------------------------------------------------
# Immutable values


class _Frozen:
    """Immutable, equal and hashed by class and ``_fields``: what ``@dataclass(frozen=True)`` generates, written
    once, because dataclasses compile six methods per class at import, ~10 ms of every provider start."""

    _fields: tuple[str, ...] = ()

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Frozen) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}({', '.join(f'{n}={getattr(self, n)!r}' for n in self._fields)})"


# --------------------------------------------------------------------------------------------------
# Errors and paths


class MapKey(_Frozen):
    """Path step selecting a map element; attribute steps are plain ``str`` and index steps ``int``."""

    _fields = ("key",)

    def __init__(self, key: str):
        object.__setattr__(self, "key", key)

    key: str


PathStep = str | int | MapKey


def format_path(path: tuple[PathStep, ...]) -> str:
    """Render a path the way users write it in HCL, e.g. ``rules[1].tags["env"]``."""
    out: list[str] = []
    for step in path:
        if isinstance(step, MapKey):
            out.append(f"[{json.dumps(step.key, ensure_ascii=False)}]")
        elif isinstance(step, int):
            out.append(f"[{step}]")
        else:
            out.append(f".{step}" if out else step)
    return "".join(out)


class CtyError(ValueError):
    """A value, payload or type description that doesn't conform.

    ``path`` keeps the structured location so callers can turn it into a diagnostic attribute path.
    """

    def __init__(self, path: tuple[PathStep, ...], detail: str):
        self.path = tuple(path)
        self.detail = detail
        where = format_path(self.path)
        super().__init__(f"{where}: {detail}" if where else detail)


# --------------------------------------------------------------------------------------------------
# Types


class Primitive(_Frozen):
    _fields = ("name",)
    name: str

    def __init__(self, name: str):
        if name not in ("string", "number", "bool"):
            raise ValueError(f"unknown primitive type {name!r}")
        object.__setattr__(self, "name", name)


class Dynamic(_Frozen):
    """cty's DynamicPseudoType: "any type", decided per value (see ``DynamicValue``)."""


class _Collection(_Frozen):
    _fields = ("element",)
    element: Type

    def __init__(self, element: Type):
        _require_type(element)
        object.__setattr__(self, "element", element)


class List(_Collection):
    pass


class Set(_Collection):
    pass


class Map(_Collection):
    pass


class Object(_Frozen):
    """Object type; attributes are kept sorted by name so equal types compare and hash equal."""

    _fields = ("attributes", "optional")
    attributes: tuple[tuple[str, Type], ...]
    optional: frozenset[str]

    def __init__(self, attributes: tuple[tuple[str, Type], ...], optional: frozenset[str] = frozenset()):
        raw = attributes
        items = list(raw.items() if isinstance(raw, Mapping) else raw)
        names = [name for name, _ in items]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate attribute names in {names}")
        for name, ty in items:
            if not isinstance(name, str):
                raise TypeError(f"attribute name must be str, got {type(name).__name__}")
            _require_type(ty)
        optional = frozenset(optional)
        if not optional <= set(names):
            raise ValueError(f"optional attributes {sorted(optional - set(names))} are not attributes")
        object.__setattr__(self, "attributes", tuple(sorted(items, key=lambda item: item[0])))
        object.__setattr__(self, "optional", optional)

    @classmethod
    def of(cls, attributes: Mapping[str, Type], optional: Any = ()) -> Object:
        return cls(tuple(attributes.items()), frozenset(optional))

    @cached_property
    def attribute_types(self) -> Mapping[str, Type]:
        return MappingProxyType(dict(self.attributes))


class Tuple(_Frozen):
    _fields = ("elements",)
    elements: tuple[Type, ...]

    def __init__(self, elements: tuple[Type, ...]):
        object.__setattr__(self, "elements", tuple(elements))
        for ty in self.elements:
            _require_type(ty)


Type = Primitive | Dynamic | List | Set | Map | Object | Tuple
_TYPE_CLASSES = (Primitive, Dynamic, List, Set, Map, Object, Tuple)

STRING = Primitive("string")
NUMBER = Primitive("number")
BOOL = Primitive("bool")
DYNAMIC = Dynamic()

_COLLECTION_KINDS = {List: "list", Set: "set", Map: "map"}


def _require_type(ty: Any) -> None:
    if not isinstance(ty, _TYPE_CLASSES):
        raise TypeError(f"not a cty type: {ty!r}")


def _kind(ty: Type) -> str:
    if isinstance(ty, Primitive):
        return ty.name
    if isinstance(ty, Dynamic):
        return "dynamic"
    if isinstance(ty, Object):
        return "object"
    if isinstance(ty, Tuple):
        return "tuple"
    return _COLLECTION_KINDS[type(ty)]


def type_to_json(ty: Type) -> Any:
    """The cty JSON type expression, as Python data (optional attribute names sorted, as cty does)."""
    _require_type(ty)
    if isinstance(ty, (Primitive, Dynamic)):
        return _kind(ty)
    if isinstance(ty, _Collection):
        return [_kind(ty), type_to_json(ty.element)]
    if isinstance(ty, Tuple):
        return ["tuple", [type_to_json(e) for e in ty.elements]]
    out: list[Any] = ["object", {name: type_to_json(t) for name, t in ty.attributes}]
    if ty.optional:
        out.append(sorted(ty.optional))
    return out


def type_to_json_bytes(ty: Type) -> bytes:
    """Compact, key-sorted JSON: the form of the schema's ``type`` field and of dynamic-value headers."""
    return json.dumps(type_to_json(ty), separators=(",", ":"), sort_keys=True).encode()


def type_from_json(obj: Any) -> Type:
    if isinstance(obj, str):
        primitives: dict[str, Type] = {"string": STRING, "number": NUMBER, "bool": BOOL, "dynamic": DYNAMIC}
        simple = primitives.get(obj)
        if simple is None:
            raise CtyError((), f"invalid primitive type name {obj!r}")
        return simple
    if not (isinstance(obj, list) and len(obj) >= 2 and isinstance(obj[0], str)):
        raise CtyError((), f"invalid type description {obj!r}")
    kind, arg, rest = obj[0], obj[1], obj[2:]
    if kind in ("list", "set", "map") and not rest:
        element = type_from_json(arg)
        return List(element) if kind == "list" else Set(element) if kind == "set" else Map(element)
    if kind == "tuple" and not rest and isinstance(arg, list):
        return Tuple(tuple(type_from_json(e) for e in arg))
    if kind == "object" and isinstance(arg, dict) and len(rest) <= 1:
        optional = rest[0] if rest else []
        if not (isinstance(optional, list) and all(isinstance(n, str) for n in optional)):
            raise CtyError((), f"invalid optional attribute list {optional!r}")
        attributes = {name: type_from_json(t) for name, t in arg.items()}
        try:
            return Object.of(attributes, optional=optional)
        except ValueError as e:
            raise CtyError((), str(e)) from e
    raise CtyError((), f"invalid type description {obj!r}")


def type_from_json_bytes(data: bytes | str) -> Type:
    try:
        obj = json.loads(data)
    except ValueError as e:
        raise CtyError((), f"invalid type JSON: {e}") from e
    return type_from_json(obj)


# --------------------------------------------------------------------------------------------------
# Special values

Number = int | float | Decimal


class Unknown(_Frozen):
    """A value Terraform doesn't know yet, plus whatever it does know about it (cty "refinements")."""

    _fields = ("not_null", "string_prefix", "number_lower", "number_upper", "length_lower", "length_upper")
    not_null: bool
    string_prefix: str | None
    number_lower: tuple[Number, bool] | None  # (bound, inclusive)
    number_upper: tuple[Number, bool] | None
    length_lower: int | None
    length_upper: int | None

    def __init__(
        self,
        not_null: bool = False,
        string_prefix: str | None = None,
        number_lower: tuple[Number, bool] | None = None,
        number_upper: tuple[Number, bool] | None = None,
        length_lower: int | None = None,
        length_upper: int | None = None,
    ):
        for name, value in zip(
            self._fields, (not_null, string_prefix, number_lower, number_upper, length_lower, length_upper), strict=True
        ):
            object.__setattr__(self, name, value)


UNKNOWN = Unknown()


class DynamicValue(_Frozen):
    """A value of a DYNAMIC-typed attribute, with the concrete type it was sent (or is to be sent) with."""

    _fields = ("type", "value")
    type: Type
    value: Any

    def __init__(self, type: Type, value: Any):
        object.__setattr__(self, "type", type)
        object.__setattr__(self, "value", value)


def is_known(value: Any) -> bool:
    """False only when the value itself is unknown (looking through a DynamicValue wrapper)."""
    if isinstance(value, DynamicValue):
        value = value.value
    return not isinstance(value, Unknown)


def is_wholly_known(value: Any) -> bool:
    """False when the value or anything nested inside it is unknown."""
    if isinstance(value, DynamicValue):
        return is_wholly_known(value.value)
    if isinstance(value, Unknown):
        return False
    if isinstance(value, (list, tuple)):
        return all(is_wholly_known(v) for v in value)
    if isinstance(value, dict):
        return all(is_wholly_known(v) for v in value.values())
    return True


# --------------------------------------------------------------------------------------------------
# Numbers
#
# cty numbers are arbitrary-precision. Decoded numbers become int when integral, float when the float
# is the exact value, and Decimal otherwise, so nothing Terraform sends is silently rounded.

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_MAX_INT_DIGITS = 4000  # beyond this, integral values stay Decimal (Python's int/str limit is 4300)
_NUMBER_TEXT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _normalize_number(n: Number, path: tuple[PathStep, ...]) -> Number:
    if isinstance(n, int):
        return n
    if isinstance(n, float):
        if math.isnan(n):
            raise CtyError(path, "NaN is not a valid number")
        return int(n) if n.is_integer() else n
    if n.is_nan():
        raise CtyError(path, "NaN is not a valid number")
    if n.is_infinite():
        return float(n)
    if n == n.to_integral_value():
        return int(n) if n.adjusted() < _MAX_INT_DIGITS else n
    f = float(n)
    return f if Decimal(f) == n else n


def number_from_double(value: float) -> Number:
    """A proto double as the number Terraform wrote: read as its shortest text (33.3, not its binary value),
    so a value round-tripped through the control plane compares equal to the configuration's."""
    return _normalize_number(Decimal(repr(value)), ())


def _parse_number(text: str, path: tuple[PathStep, ...]) -> Number:
    if not _NUMBER_TEXT.fullmatch(text):
        raise CtyError(path, f"invalid number {text!r}")
    try:
        return _normalize_number(Decimal(text), path)
    except InvalidOperation as e:
        raise CtyError(path, f"invalid number {text!r}") from e


def _check_number(n: Any, path: tuple[PathStep, ...]) -> None:
    if not _is_number(n):
        raise CtyError(path, f"expected number, got {type(n).__name__}")
    if isinstance(n, float) and math.isnan(n) or isinstance(n, Decimal) and n.is_nan():
        raise CtyError(path, "NaN is not a valid number")


def _integral_decimal_text(n: Decimal) -> str:
    return format(n.to_integral_value(), "f")


def _number_to_msgpack(n: Number, path: tuple[PathStep, ...]) -> int | float | str:
    """Same precedence as cty: int64 when exact, else float64 when exact, else decimal text.

    One deliberate difference: integers outside int64 always go as text (never as a float64, even when
    one happens to be exact), so they keep every digit regardless of how they were produced.
    """
    _check_number(n, path)
    if isinstance(n, float):
        if n.is_integer() and _INT64_MIN <= n <= _INT64_MAX:
            return int(n)
        return n
    if isinstance(n, Decimal):
        if n.is_infinite():
            return float(n)
        if n == n.to_integral_value():
            return int(n) if _INT64_MIN <= n <= _INT64_MAX else _integral_decimal_text(n)
        f = float(n)
        return f if Decimal(f) == n else format(n, "f")
    return n if _INT64_MIN <= n <= _INT64_MAX else str(n)


def _number_to_json_text(n: Number, path: tuple[PathStep, ...]) -> str:
    _check_number(n, path)
    if isinstance(n, float) and math.isinf(n) or isinstance(n, Decimal) and n.is_infinite():
        raise CtyError(path, "infinity cannot be represented in JSON")
    if isinstance(n, float):
        return str(int(n)) if n.is_integer() else repr(n)
    if isinstance(n, Decimal):
        return _integral_decimal_text(n) if n == n.to_integral_value() else format(n, "f")
    return str(n)


# --------------------------------------------------------------------------------------------------
# Unknown values in msgpack
#
# A wholly unknown value is an extension value whose body is at most one byte; a refined unknown is
# extension 0x0c carrying a small msgpack map of refinements keyed by the integers below.

_PLAIN_UNKNOWN = msgpack.ExtType(0, b"\x00")


class _Extension(_Frozen):
    """A decoded msgpack extension value (msgpack.ExtType can't hold the negative codes we must accept)."""

    _fields = ("code", "data")
    code: int
    data: bytes

    def __init__(self, code: int, data: bytes):
        object.__setattr__(self, "code", code)
        object.__setattr__(self, "data", data)


_REFINED_UNKNOWN_EXT = 0x0C
_MAX_REFINEMENT_BYTES = 1024
_R_NULLNESS, _R_STRING_PREFIX, _R_NUMBER_MIN, _R_NUMBER_MAX, _R_LENGTH_MIN, _R_LENGTH_MAX = range(1, 7)


def _is_collection(ty: Type) -> bool:
    return isinstance(ty, (List, Set, Map))


def _encode_unknown(u: Unknown, ty: Type, path: tuple[PathStep, ...]) -> msgpack.ExtType:
    if isinstance(ty, Dynamic):  # cty never refines an unknown of unknown type
        return _PLAIN_UNKNOWN
    refinements: dict[int, Any] = {}
    if u.not_null:
        refinements[_R_NULLNESS] = False
    if u.string_prefix:
        if ty != STRING:
            raise CtyError(path, f"string prefix refinement on a {_kind(ty)} value")
        refinements[_R_STRING_PREFIX] = u.string_prefix
    for key, bound in ((_R_NUMBER_MIN, u.number_lower), (_R_NUMBER_MAX, u.number_upper)):
        if bound is not None:
            if ty != NUMBER:
                raise CtyError(path, f"number bound refinement on a {_kind(ty)} value")
            value, inclusive = bound
            refinements[key] = [_number_to_msgpack(value, path), bool(inclusive)]
    for key, length in ((_R_LENGTH_MIN, u.length_lower), (_R_LENGTH_MAX, u.length_upper)):
        if length is not None:
            if not _is_collection(ty):
                raise CtyError(path, f"length refinement on a {_kind(ty)} value")
            if not isinstance(length, int) or isinstance(length, bool) or length < 0:
                raise CtyError(path, f"invalid length bound {length!r}")
            refinements[key] = length
    if not refinements:
        return _PLAIN_UNKNOWN
    payload = msgpack.packb(refinements)
    if len(payload) > _MAX_REFINEMENT_BYTES:
        raise CtyError(path, "unknown value refinements exceed 1024 bytes")
    return msgpack.ExtType(_REFINED_UNKNOWN_EXT, payload)


def _decode_unknown(ext: _Extension | msgpack.Timestamp, ty: Type, path: tuple[PathStep, ...]) -> Unknown | None:
    """Returns None for the (odd but legal) "definitely null" refinement, as cty collapses it to null."""
    if isinstance(ext, msgpack.Timestamp):
        raise CtyError(path, "unsupported msgpack extension type -1 (timestamp)")
    if len(ext.data) <= 1:
        return UNKNOWN
    if ext.code != _REFINED_UNKNOWN_EXT:
        raise CtyError(path, f"unsupported msgpack extension type {ext.code} with length {len(ext.data)}")
    if len(ext.data) > _MAX_REFINEMENT_BYTES:
        raise CtyError(path, "oversize unknown value refinement")
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, ext_hook=_Extension)
    unpacker.feed(ext.data)
    try:
        refinements = unpacker.unpack()  # trailing bytes are reserved by cty; ignore them
    except Exception as e:
        raise CtyError(path, f"malformed unknown value refinement: {e}") from e
    if not isinstance(refinements, dict):
        raise CtyError(path, "unknown value refinement is not a map")
    if isinstance(ty, Dynamic):
        return UNKNOWN

    fields: dict[str, Any] = {}
    definitely_null = False
    for key, raw in refinements.items():
        if not isinstance(key, int) or isinstance(key, bool):
            raise CtyError(path, "unknown value refinement has a non-integer key")
        if key == _R_NULLNESS:
            if not isinstance(raw, bool):
                raise CtyError(path, "nullness refinement is not a bool")
            definitely_null = raw
            fields["not_null"] = not raw
        elif key == _R_STRING_PREFIX:
            if ty != STRING:
                raise CtyError(path, f"string prefix refinement for a {_kind(ty)} value")
            if not isinstance(raw, str):
                raise CtyError(path, "string prefix refinement is not a string")
            fields["string_prefix"] = raw or None
        elif key in (_R_NUMBER_MIN, _R_NUMBER_MAX):
            if ty != NUMBER:
                raise CtyError(path, f"number bound refinement for a {_kind(ty)} value")
            is_pair = isinstance(raw, list) and len(raw) == 2 and isinstance(raw[1], bool)
            if not is_pair or raw[0] is None:
                raise CtyError(path, "number bound refinement must be a [number, bool] array")
            bound = _MsgpackDecoder().primitive(raw[0], NUMBER, path)
            fields["number_lower" if key == _R_NUMBER_MIN else "number_upper"] = (bound, raw[1])
        elif key in (_R_LENGTH_MIN, _R_LENGTH_MAX):
            if not _is_collection(ty):
                raise CtyError(path, f"length refinement for a {_kind(ty)} value")
            if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0:
                raise CtyError(path, "length refinement is not a non-negative integer")
            fields["length_lower" if key == _R_LENGTH_MIN else "length_upper"] = raw
        # Other keys are reserved for future refinements; cty ignores them too.
    return None if definitely_null else Unknown(**fields)


# --------------------------------------------------------------------------------------------------
# Decoding: both formats are parsed by their libraries first, then walked against the type.


def _got(node: Any) -> str:
    return type(node).__name__


class _TreeDecoder:
    def value(self, node: Any, ty: Type, path: tuple[PathStep, ...]) -> Any:
        if node is None:
            return None
        if isinstance(ty, Dynamic):
            return self.dynamic(node, path)
        if isinstance(ty, Primitive):
            return self.primitive(node, ty, path)
        if isinstance(ty, (List, Set)):
            items = self._expect(node, list, ty, path)
            return [self.value(v, ty.element, (*path, i)) for i, v in enumerate(items)]
        if isinstance(ty, Tuple):
            items = self._expect(node, list, ty, path)
            if len(items) != len(ty.elements):
                raise CtyError(path, f"expected tuple of {len(ty.elements)} elements, got {len(items)}")
            return [self.value(v, t, (*path, i)) for i, (v, t) in enumerate(zip(items, ty.elements, strict=True))]
        if isinstance(ty, Map):
            items = self._expect(node, dict, ty, path)
            out = {}
            for k, v in items.items():
                key = self._key(k, path)
                out[key] = self.value(v, ty.element, (*path, MapKey(key)))
            return out
        items = self._expect(node, dict, ty, path)
        attributes = ty.attribute_types
        present = {}
        for k, v in items.items():
            name = self._key(k, path)
            if name not in attributes:
                raise CtyError(path, f"unexpected attribute {name!r}")
            present[name] = self.value(v, attributes[name], (*path, name))
        return {name: present.get(name) for name in attributes}

    def primitive(self, node: Any, ty: Primitive, path: tuple[PathStep, ...]) -> Any:
        raise NotImplementedError

    def dynamic(self, node: Any, path: tuple[PathStep, ...]) -> Any:
        raise NotImplementedError

    @staticmethod
    def _expect(node: Any, python_type: type, ty: Type, path: tuple[PathStep, ...]) -> Any:
        if not isinstance(node, python_type):
            raise CtyError(path, f"expected {_kind(ty)}, got {_got(node)}")
        return node

    @staticmethod
    def _key(key: Any, path: tuple[PathStep, ...]) -> str:
        if isinstance(key, bytes):
            try:
                return key.decode()
            except UnicodeDecodeError as e:
                raise CtyError(path, "map key is not valid UTF-8") from e
        if not isinstance(key, str):
            raise CtyError(path, f"expected string key, got {_got(key)}")
        return key

    def _typed(self, raw_type: Any, raw_value: Any, path: tuple[PathStep, ...]) -> Any:
        try:
            ty = type_from_json(raw_type)
        except CtyError as e:
            raise CtyError(path, f"dynamic value: {e.detail}") from e
        value = self.value(raw_value, ty, path)
        return value if isinstance(ty, Dynamic) else DynamicValue(ty, value)


class _MsgpackDecoder(_TreeDecoder):
    def value(self, node: Any, ty: Type, path: tuple[PathStep, ...]) -> Any:
        if isinstance(node, (_Extension, msgpack.Timestamp)):
            return _decode_unknown(node, ty, path)
        return super().value(node, ty, path)

    def primitive(self, node: Any, ty: Primitive, path: tuple[PathStep, ...]) -> Any:
        if ty == STRING:
            if isinstance(node, bytes):  # cty's decoder also accepts bin for strings
                try:
                    return node.decode()
                except UnicodeDecodeError as e:
                    raise CtyError(path, "string is not valid UTF-8") from e
            if isinstance(node, str):
                return node
        elif ty == BOOL:
            if isinstance(node, bool):
                return node
        elif _is_number(node):
            return _normalize_number(node, path)
        elif isinstance(node, str):  # cty's fallback for numbers too big or precise for int64/float64
            return _parse_number(node, path)
        raise CtyError(path, f"expected {ty.name}, got {_got(node)}")

    def dynamic(self, node: Any, path: tuple[PathStep, ...]) -> Any:
        if not (isinstance(node, list) and len(node) == 2):
            raise CtyError(path, "dynamic value must be a [type, value] array")
        raw_type, raw_value = node
        if not isinstance(raw_type, (bytes, str)):
            raise CtyError(path, f"dynamic value type must be JSON bytes, got {_got(raw_type)}")
        try:
            type_json = json.loads(raw_type)
        except ValueError as e:
            raise CtyError(path, f"dynamic value type is not valid JSON: {e}") from e
        return self._typed(type_json, raw_value, path)


class _JsonDecoder(_TreeDecoder):
    """Accepts the same primitive conversions as cty's JSON decoder (e.g. "12" for a number)."""

    def primitive(self, node: Any, ty: Primitive, path: tuple[PathStep, ...]) -> Any:
        if ty == STRING:
            if isinstance(node, str):
                return node
            if isinstance(node, bool):
                return "true" if node else "false"
            if isinstance(node, (int, Decimal)):
                return str(node)
        elif ty == BOOL:
            if isinstance(node, bool):
                return node
            if node in ("true", "false"):
                return node == "true"
        elif _is_number(node):
            return _normalize_number(node, path)
        elif isinstance(node, str):
            return _parse_number(node, path)
        raise CtyError(path, f"expected {ty.name}, got {_got(node)}")

    def dynamic(self, node: Any, path: tuple[PathStep, ...]) -> Any:
        if not (isinstance(node, dict) and set(node) == {"type", "value"}):
            raise CtyError(path, 'dynamic value must be a {"value": ..., "type": ...} object')
        return self._typed(node["type"], node["value"], path)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def decode_msgpack(data: bytes, ty: Type) -> Any:
    _require_type(ty)
    try:
        tree = msgpack.unpackb(data, raw=False, strict_map_key=False, ext_hook=_Extension)
    except (ValueError, TypeError, msgpack.UnpackException) as e:
        raise CtyError((), f"invalid msgpack: {e}") from e
    return _MsgpackDecoder().value(tree, ty, ())


def decode_json(data: bytes | str, ty: Type) -> Any:
    _require_type(ty)
    try:
        tree = json.loads(data, parse_float=Decimal, parse_constant=_reject_constant)
    except ValueError as e:
        raise CtyError((), f"invalid JSON: {e}") from e
    return _JsonDecoder().value(tree, ty, ())


# --------------------------------------------------------------------------------------------------
# Encoding: the value is checked against the type and turned into a tree the output format can write.


class _TreeEncoder:
    def value(self, v: Any, ty: Type, path: tuple[PathStep, ...]) -> Any:
        if v is None:
            return None
        if isinstance(v, Unknown):
            return self.unknown(v, ty, path)
        if isinstance(ty, Dynamic):
            if not isinstance(v, DynamicValue):
                raise CtyError(path, f"expected DynamicValue for a dynamic value, got {_got(v)}")
            if isinstance(v.type, Dynamic):
                return self.value(v.value, DYNAMIC, path)
            _require_type(v.type)
            return self.dynamic(v.type, self.value(v.value, v.type, path))
        if isinstance(ty, Primitive):
            if ty == NUMBER:
                return self.number(v, path)
            expected = str if ty == STRING else bool
            if not isinstance(v, expected):
                raise CtyError(path, f"expected {ty.name}, got {_got(v)}")
            return v
        if isinstance(ty, (List, Set, Tuple)):
            items = self._sequence(v, ty, path)
            if isinstance(ty, Tuple):
                if len(items) != len(ty.elements):
                    raise CtyError(path, f"expected tuple of {len(ty.elements)} elements, got {len(items)}")
                return [self.value(x, t, (*path, i)) for i, (x, t) in enumerate(zip(items, ty.elements, strict=True))]
            return [self.value(x, ty.element, (*path, i)) for i, x in enumerate(items)]
        if not isinstance(v, Mapping):
            raise CtyError(path, f"expected {_kind(ty)}, got {_got(v)}")
        for key in v:
            if not isinstance(key, str):
                raise CtyError(path, f"expected string key, got {_got(key)}")
        if isinstance(ty, Map):
            return {k: self.value(v[k], ty.element, (*path, MapKey(k))) for k in sorted(v)}
        attributes = ty.attribute_types
        for key in v:
            if key not in attributes:
                raise CtyError(path, f"unexpected attribute {key!r}")
        return {name: self.value(v.get(name), t, (*path, name)) for name, t in ty.attributes}

    def number(self, v: Any, path: tuple[PathStep, ...]) -> Any:
        raise NotImplementedError

    def unknown(self, v: Unknown, ty: Type, path: tuple[PathStep, ...]) -> Any:
        raise NotImplementedError

    def dynamic(self, ty: Type, encoded: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def _sequence(v: Any, ty: Type, path: tuple[PathStep, ...]) -> list | tuple:
        if isinstance(v, (list, tuple)):
            return v
        if isinstance(ty, Set) and isinstance(v, (set, frozenset)):
            try:
                return sorted(v)  # deterministic bytes when the elements allow it
            except TypeError:
                return list(v)
        raise CtyError(path, f"expected {_kind(ty)}, got {_got(v)}")


class _MsgpackEncoder(_TreeEncoder):
    def number(self, v: Any, path: tuple[PathStep, ...]) -> Any:
        return _number_to_msgpack(v, path)

    def unknown(self, v: Unknown, ty: Type, path: tuple[PathStep, ...]) -> Any:
        return _encode_unknown(v, ty, path)

    def dynamic(self, ty: Type, encoded: Any) -> Any:
        return [type_to_json_bytes(ty), encoded]


class _RawJSON(str):
    """Already-serialized JSON (numbers), written verbatim so big and precise numbers keep every digit."""


class _JsonEncoder(_TreeEncoder):
    def number(self, v: Any, path: tuple[PathStep, ...]) -> Any:
        return _RawJSON(_number_to_json_text(v, path))

    def unknown(self, v: Unknown, ty: Type, path: tuple[PathStep, ...]) -> Any:
        raise CtyError(path, "unknown values cannot be encoded as JSON")

    def dynamic(self, ty: Type, encoded: Any) -> Any:
        return {"value": encoded, "type": type_to_json(ty)}


def _write_json(node: Any, out: list[str]) -> None:
    if isinstance(node, _RawJSON):
        out.append(node)
    elif isinstance(node, dict):
        out.append("{")
        for i, (k, v) in enumerate(node.items()):
            out.append(("," if i else "") + json.dumps(k, ensure_ascii=False) + ":")
            _write_json(v, out)
        out.append("}")
    elif isinstance(node, list):
        out.append("[")
        for i, v in enumerate(node):
            if i:
                out.append(",")
            _write_json(v, out)
        out.append("]")
    else:  # None, bool, str
        out.append(json.dumps(node, ensure_ascii=False))


def encode_msgpack(value: Any, ty: Type) -> bytes:
    _require_type(ty)
    return msgpack.packb(_MsgpackEncoder().value(value, ty, ()), use_bin_type=True)


def encode_json(value: Any, ty: Type) -> bytes:
    _require_type(ty)
    out: list[str] = []
    _write_json(_JsonEncoder().value(value, ty, ()), out)
    return "".join(out).encode()
