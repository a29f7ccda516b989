"""One generic implementation for every resource and data source derived from the proto.

Each operation reads native values, returns early on error diagnostics, calls the control plane and
flattens the answer into state. Plan modifiers are read off the attributes: ``requires_replace``,
``use_state_for_unknown`` and ``constant``.
"""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message_factory import GetMessageClass

from costory_schema import rules
from provider_shim import cty
from provider_shim.client import ControlPlane, ControlPlaneError, field_path
from provider_shim.diagnostics import Diagnostic, error, located, warning
from provider_shim.messages import from_message, to_message
from provider_shim.schema import TerraformType

State = dict[str, Any] | None


def _configurable(terraform_type: TerraformType):
    return [a for a in terraform_type.attributes if a.required or a.optional]


def with_defaults(attributes, value: dict) -> tuple[dict, bool]:
    """``value`` with each unset attribute that has a default set to it, in nested objects too. Also says
    whether a default was set inside a list of objects: Terraform accepts that from a provider only under its
    legacy type system (such attributes are plain typed attributes so that HCL takes them as blocks too)."""
    filled = dict(value)
    nested_default = False
    for attribute in attributes:
        current = filled.get(attribute.name)
        if current is None and attribute.default is not None:
            filled[attribute.name] = attribute.default
        elif attribute.nested and isinstance(current, list):
            items = [with_defaults(attribute.nested, item)[0] if isinstance(item, dict) else item for item in current]
            nested_default = nested_default or items != current
            filled[attribute.name] = items
    return filled, nested_default


def _never_known(attribute, prior: dict) -> bool:
    """A write-only secret the state never held: the object was imported, and the API does not return secrets.
    Setting it is an in-place update (the control plane stores it again), not a reason to re-create the object."""
    return attribute.sensitive and prior.get(attribute.name) is None and prior.get("id") is not None


def _diagnostics_of(findings, *, errors: bool) -> list[Diagnostic]:
    """costory.v1.Finding messages as diagnostics on the attribute each names (errors only if asked)."""
    out = []
    for f in findings:
        path = field_path(f.field) if f.field else ()
        if f.severity == f.WARNING:
            out.append(warning(f.summary, located(f.detail, path), path))
        elif errors:
            out.append(error(f.summary, located(f.detail, path), path))
    return out


def _warnings(message) -> list[Diagnostic]:
    """Warning findings the control plane attached to a saved object (API convention: a repeated
    ``findings`` field of costory.v1.Finding), shown by Terraform after apply."""
    if "findings" not in message.DESCRIPTOR.fields_by_name:
        return []
    return _diagnostics_of(message.findings, errors=False)


class Resource:
    def __init__(self, terraform_type: TerraformType):
        self.type = terraform_type
        self._message_class = GetMessageClass(terraform_type.message)

    def _method(self, verb: str) -> str:
        return f"{verb}{self.type.singular}"

    def _request_field(self) -> str:
        from costory_schema.options import request_field

        return request_field(self.type.message.name)

    # -- validate / plan: no control-plane call -------------------------------------------------------

    def validate(self, config: State) -> list[Diagnostic]:
        return rules.check(self.type.message, config, is_known=cty.is_known)

    def plan(self, prior: State, proposed: State) -> tuple[State, list[tuple], list[Diagnostic]]:
        """The planned state and the paths that force replacement."""
        if proposed is None:
            return None, [], []
        planned, _ = with_defaults(self.type.attributes, proposed)
        if prior is None:
            for attribute in self.type.attributes:
                if attribute.computed and planned.get(attribute.name) is None:
                    planned[attribute.name] = attribute.constant if attribute.constant else cty.UNKNOWN
            return planned, [], []
        changed = [a for a in _configurable(self.type) if prior.get(a.name) != planned.get(a.name)]
        if not changed:
            return prior, [], []
        for attribute in self.type.attributes:
            if attribute.computed and not (attribute.required or attribute.optional):
                keep = attribute.use_state_for_unknown or attribute.constant
                planned[attribute.name] = prior.get(attribute.name) if keep else cty.UNKNOWN
        replace = [(a.name,) for a in changed if a.requires_replace and not _never_known(a, prior)]
        return planned, replace, []

    def plan_check(self, control_plane: ControlPlane, prior: State, planned: State) -> list[Diagnostic]:
        """For types with ``plan_check``: ask the control plane about a create or an in-place change.
        Values not known yet are sent as ``unknown_fields`` and checked again at apply."""
        if not self.type.plan_check or planned is None or planned is prior:
            return []
        unknown: list[str] = []
        body: Any = self._message_class()
        if prior is not None and cty.is_known(prior.get("id")):
            body.id = prior["id"]
        to_message(body, self.type.attributes, planned, unknown)
        try:
            response = control_plane.call(
                self.type.service,
                self._method("Validate"),
                **{self._request_field(): body, "unknown_fields": unknown},
            )
        except ControlPlaneError as exc:
            return exc.diagnostics
        return _diagnostics_of(response.findings, errors=True)

    # -- apply / read / import -------------------------------------------------------------------------

    def apply(self, control_plane: ControlPlane, prior: State, planned: State) -> tuple[State, list[Diagnostic]]:
        try:
            if planned is None:
                if prior is not None:  # Terraform never plans from nothing to nothing; nothing to delete then
                    self._delete(control_plane, prior["id"])
                return None, []
            if prior is None:
                return self._create(control_plane, planned)
            return self._update(control_plane, prior, planned)
        except ControlPlaneError as exc:
            return prior, exc.diagnostics

    def _delete(self, control_plane: ControlPlane, object_id: str) -> None:
        try:
            control_plane.call(self.type.service, self._method("Delete"), id=object_id)
        except ControlPlaneError as exc:
            if exc.code != grpc.StatusCode.NOT_FOUND:
                raise

    def _create(self, control_plane: ControlPlane, planned: dict) -> tuple[dict, list[Diagnostic]]:
        body = to_message(self._message_class(), self.type.attributes, planned)
        created = control_plane.call(self.type.service, self._method("Create"), **{self._request_field(): body})
        return from_message(created, self.type.attributes, planned), _warnings(created)

    def _update(self, control_plane: ControlPlane, prior: dict, planned: dict) -> tuple[dict, list[Diagnostic]]:
        changed = [a.name for a in _configurable(self.type) if prior.get(a.name) != planned.get(a.name)]
        body = to_message(self._message_class(id=prior["id"]), self.type.attributes, planned)
        updated = control_plane.call(
            self.type.service,
            self._method("Update"),
            **{self._request_field(): body, "update_mask": FieldMask(paths=changed)},
        )
        return from_message(updated, self.type.attributes, planned), _warnings(updated)

    def read(self, control_plane: ControlPlane, current: State) -> tuple[State, list[Diagnostic]]:
        if current is None:
            return None, []
        try:
            found = control_plane.call(self.type.service, self._method("Get"), id=current["id"])
        except ControlPlaneError as exc:
            if exc.code == grpc.StatusCode.NOT_FOUND:
                return None, [
                    warning(
                        "Resource Not Found",
                        f"{self.type.type_name} {current['id']} no longer exists in the control plane; "
                        "it was removed from the state and the next plan will create it again.",
                    )
                ]
            return current, exc.diagnostics
        return from_message(found, self.type.attributes, current), []

    def import_state(self, control_plane: ControlPlane, object_id: str) -> tuple[State, list[Diagnostic]]:
        try:
            found = control_plane.call(self.type.service, self._method("Get"), id=object_id)
        except ControlPlaneError as exc:
            if exc.code == grpc.StatusCode.NOT_FOUND:
                return None, [
                    error(
                        "Cannot Import Non-Existent Object",
                        f"No {self.type.type_name} with id `{object_id}` exists for this token's tenant. "
                        "Check the id with the control plane's List API.",
                    )
                ]
            return None, exc.diagnostics
        return from_message(found, self.type.attributes, None), []


class DataSource:
    def __init__(self, terraform_type: TerraformType):
        self.type = terraform_type

    def read(self, control_plane: ControlPlane, config: State) -> tuple[State, list[Diagnostic]]:
        try:
            found = control_plane.call(self.type.service, f"Get{self.type.singular}")
        except ControlPlaneError as exc:
            return None, exc.diagnostics
        return from_message(found, self.type.attributes, config), []
