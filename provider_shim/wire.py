"""Protocol types in and out: the only module that builds or reads tfplugin6 messages' payloads.

RPC handlers and resources work on native values (cty-decoded Python values, ``Diagnostic``); this
module turns them into protocol messages and back.
"""

from __future__ import annotations

from costory_proto import tfplugin6_pb2 as tf
from provider_shim import cty
from provider_shim.diagnostics import Diagnostic, Severity
from provider_shim.schema import Attribute, TerraformType

_NULL = cty.encode_msgpack(None, cty.DYNAMIC)


def decode(value: tf.DynamicValue, ty: cty.Type):
    """A DynamicValue as a native value; an absent value (no bytes at all) is null."""
    if value.msgpack:
        return cty.decode_msgpack(value.msgpack, ty)
    if value.json:
        return cty.decode_json(value.json, ty)
    return None


def encode(value, ty: cty.Type) -> tf.DynamicValue:
    if value is None:
        return tf.DynamicValue(msgpack=_NULL)
    return tf.DynamicValue(msgpack=cty.encode_msgpack(value, ty))


def attribute_path(path) -> tf.AttributePath:
    steps = []
    for step in path:
        if isinstance(step, int):
            steps.append(tf.AttributePath.Step(element_key_int=step))
        else:
            steps.append(tf.AttributePath.Step(attribute_name=step))
    return tf.AttributePath(steps=steps)


def diagnostics(items: list[Diagnostic]) -> list[tf.Diagnostic]:
    out = []
    for item in items:
        message = tf.Diagnostic(
            severity=tf.Diagnostic.ERROR if item.severity is Severity.ERROR else tf.Diagnostic.WARNING,
            summary=item.summary,
            detail=item.detail,
        )
        if item.path:
            message.attribute.CopyFrom(attribute_path(item.path))
        out.append(message)
    return out


def _attribute(attribute: Attribute) -> tf.Schema.Attribute:
    return tf.Schema.Attribute(
        name=attribute.name,
        type=cty.type_to_json_bytes(attribute.type),
        description=attribute.description,
        description_kind=tf.MARKDOWN,
        required=attribute.required,
        optional=attribute.optional and not attribute.required,
        computed=attribute.computed,
        sensitive=attribute.sensitive,
    )


def schema(terraform_type: TerraformType) -> tf.Schema:
    return tf.Schema(
        version=0,
        block=tf.Schema.Block(
            version=0,
            attributes=[_attribute(a) for a in terraform_type.attributes],
            description=terraform_type.description,
            description_kind=tf.MARKDOWN,
        ),
    )
