"""The tfplugin6 Provider service: one method per RPC, each decoding its request with ``wire``, calling
a resource operation on native values, and encoding the answer. Exceptions become one diagnostic here,
at the edge; nothing raised inside a handler reaches Terraform as a traceback.

Terraform starts a provider process several times per plan and some of them only ask for the schema, so
the control-plane client and the resource operations (and the rule and gRPC-status modules they bring)
are imported by the first RPC that needs them, not at start-up."""

from __future__ import annotations

import functools
import logging
import os
from functools import cached_property
from typing import TYPE_CHECKING

from costory_proto import tfplugin6_pb2 as tf
from costory_proto import tfplugin6_pb2_grpc
from provider_shim import cty, wire
from provider_shim.diagnostics import Diagnostic, error, has_errors
from provider_shim.schema import provider_schema

if TYPE_CHECKING:
    from provider_shim.client import ControlPlane
    from provider_shim.resources import DataSource, Resource

log = logging.getLogger("provider_shim")


def _guarded(response_class):
    """Turn any exception in an RPC into an error diagnostic on ``response_class``."""

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, request, context):
            try:
                return method(self, request, context)
            except Exception as exc:  # the edge: report, never crash the plugin
                log.error("%s failed: %s: %s", method.__name__, type(exc).__name__, exc)
                return response_class(
                    diagnostics=wire.diagnostics(
                        [error("Internal Provider Error", f"{method.__name__} failed: {type(exc).__name__}: {exc}")]
                    )
                )

        return wrapper

    return decorate


class ProviderService(tfplugin6_pb2_grpc.ProviderServicer):
    def __init__(self, environ: dict[str, str] | None = None):
        self._environ = os.environ if environ is None else environ
        self._schema = provider_schema()
        self._control_plane: ControlPlane | None = None
        self._schema_response: tf.GetProviderSchema.Response | None = None

    def prepare(self) -> None:
        """Build now what every provider process needs whatever its configuration: a warm zygote does this once
        before forking, so each start answers from memory."""
        self.GetProviderSchema(None, None)
        self._resources, self._data_sources  # noqa: B018  (cached properties, built here)

    @cached_property
    def _resources(self) -> dict[str, Resource]:
        from provider_shim.resources import Resource

        return {name: Resource(t) for name, t in self._schema.resources.items()}

    @cached_property
    def _data_sources(self) -> dict[str, DataSource]:
        from provider_shim.resources import DataSource

        return {name: DataSource(t) for name, t in self._schema.data_sources.items()}

    # -- schema ---------------------------------------------------------------------------------------

    def GetMetadata(self, request, context):
        return tf.GetMetadata.Response(
            server_capabilities=tf.ServerCapabilities(get_provider_schema_optional=True),
            resources=[tf.GetMetadata.ResourceMetadata(type_name=n) for n in self._schema.resources],
            data_sources=[tf.GetMetadata.DataSourceMetadata(type_name=n) for n in self._schema.data_sources],
        )

    def GetProviderSchema(self, request, context):
        if self._schema_response is None:
            self._schema_response = tf.GetProviderSchema.Response(
                provider=wire.schema(self._schema.provider),
                resource_schemas={n: wire.schema(t) for n, t in self._schema.resources.items()},
                data_source_schemas={n: wire.schema(t) for n, t in self._schema.data_sources.items()},
                server_capabilities=tf.ServerCapabilities(get_provider_schema_optional=True),
            )
        return self._schema_response

    def GetResourceIdentitySchemas(self, request, context):
        return tf.GetResourceIdentitySchemas.Response()

    def GetFunctions(self, request, context):
        return tf.GetFunctions.Response()

    # -- provider -------------------------------------------------------------------------------------

    @_guarded(tf.ValidateProviderConfig.Response)
    def ValidateProviderConfig(self, request, context):
        from provider_shim.client import parse_base_url

        config = wire.decode(request.config, self._schema.provider.object_type) or {}
        diagnostics = []
        base_url = config.get("base_url")
        if isinstance(base_url, str):
            try:
                parse_base_url(base_url)
            except ValueError as exc:
                diagnostics.append(error("Invalid Control Plane Address", str(exc), ("base_url",)))
        return tf.ValidateProviderConfig.Response(diagnostics=wire.diagnostics(diagnostics))

    @_guarded(tf.ConfigureProvider.Response)
    def ConfigureProvider(self, request, context):
        from provider_shim.client import ControlPlane, ControlPlaneError, parse_base_url

        config = wire.decode(request.config, self._schema.provider.object_type) or {}
        token = config.get("token") or self._environ.get("COSTORY_TOKEN")
        base_url = config.get("base_url") or self._environ.get("COSTORY_BASE_URL")
        diagnostics: list[Diagnostic] = []
        if not token:
            diagnostics.append(
                error(
                    "Missing API Token",
                    "Set `token` in the provider block or the COSTORY_TOKEN environment variable to a token "
                    "printed by `costory-control-plane tenants create`.",
                    ("token",),
                )
            )
        if not cty.is_known(token) or not cty.is_known(base_url):
            diagnostics.append(
                error("Unknown Provider Configuration", "`token` and `base_url` must be known at plan time.")
            )
        if has_errors(diagnostics):
            return tf.ConfigureProvider.Response(diagnostics=wire.diagnostics(diagnostics))
        try:
            target = parse_base_url(base_url)
        except ValueError as exc:
            return tf.ConfigureProvider.Response(
                diagnostics=wire.diagnostics([error("Invalid Control Plane Address", str(exc), ("base_url",))])
            )
        control_plane = ControlPlane(target, str(token))
        try:
            control_plane.call("costory.v1.TenantService", "WhoAmI")
        except ControlPlaneError as exc:
            control_plane.close()
            return tf.ConfigureProvider.Response(diagnostics=wire.diagnostics(exc.diagnostics))
        self._control_plane = control_plane
        return tf.ConfigureProvider.Response()

    def StopProvider(self, request, context):
        return tf.StopProvider.Response()

    def _configured(self) -> ControlPlane:
        if self._control_plane is None:
            raise RuntimeError("the provider was used before ConfigureProvider succeeded")
        return self._control_plane

    # -- managed resources ----------------------------------------------------------------------------

    @_guarded(tf.ValidateResourceConfig.Response)
    def ValidateResourceConfig(self, request, context):
        resource = self._resources[request.type_name]
        config = wire.decode(request.config, resource.type.object_type)
        return tf.ValidateResourceConfig.Response(diagnostics=wire.diagnostics(resource.validate(config)))

    @_guarded(tf.UpgradeResourceState.Response)
    def UpgradeResourceState(self, request, context):
        resource = self._resources[request.type_name]
        ty = resource.type.object_type
        if not request.raw_state.json:
            return tf.UpgradeResourceState.Response(
                diagnostics=wire.diagnostics(
                    [error("Unsupported State Format", "Only JSON state is supported; re-import the resource.")]
                )
            )
        state = cty.decode_json(request.raw_state.json, ty)
        return tf.UpgradeResourceState.Response(upgraded_state=wire.encode(state, ty))

    @_guarded(tf.ReadResource.Response)
    def ReadResource(self, request, context):
        resource = self._resources[request.type_name]
        ty = resource.type.object_type
        current = wire.decode(request.current_state, ty)
        new_state, diagnostics = resource.read(self._configured(), current)
        return tf.ReadResource.Response(
            new_state=wire.encode(new_state, ty), private=request.private, diagnostics=wire.diagnostics(diagnostics)
        )

    @_guarded(tf.PlanResourceChange.Response)
    def PlanResourceChange(self, request, context):
        from provider_shim.resources import with_defaults

        resource = self._resources[request.type_name]
        ty = resource.type.object_type
        prior = wire.decode(request.prior_state, ty)
        proposed = wire.decode(request.proposed_new_state, ty)
        planned, replace, diagnostics = resource.plan(prior, proposed)
        if resource.type.plan_check and not replace:
            diagnostics += resource.plan_check(self._configured(), prior, planned)
        return tf.PlanResourceChange.Response(
            planned_state=wire.encode(planned, ty),
            requires_replace=[wire.attribute_path(p) for p in replace],
            planned_private=request.prior_private,
            diagnostics=wire.diagnostics(diagnostics),
            legacy_type_system=proposed is not None and with_defaults(resource.type.attributes, proposed)[1],
        )

    @_guarded(tf.ApplyResourceChange.Response)
    def ApplyResourceChange(self, request, context):
        resource = self._resources[request.type_name]
        ty = resource.type.object_type
        prior = wire.decode(request.prior_state, ty)
        planned = wire.decode(request.planned_state, ty)
        new_state, diagnostics = resource.apply(self._configured(), prior, planned)
        return tf.ApplyResourceChange.Response(
            new_state=wire.encode(new_state, ty), diagnostics=wire.diagnostics(diagnostics)
        )

    @_guarded(tf.ImportResourceState.Response)
    def ImportResourceState(self, request, context):
        resource = self._resources[request.type_name]
        state, diagnostics = resource.import_state(self._configured(), request.id)
        imported = []
        if state is not None:
            imported.append(
                tf.ImportResourceState.ImportedResource(
                    type_name=request.type_name, state=wire.encode(state, resource.type.object_type)
                )
            )
        return tf.ImportResourceState.Response(imported_resources=imported, diagnostics=wire.diagnostics(diagnostics))

    # -- data sources ---------------------------------------------------------------------------------

    @_guarded(tf.ValidateDataResourceConfig.Response)
    def ValidateDataResourceConfig(self, request, context):
        return tf.ValidateDataResourceConfig.Response()

    @_guarded(tf.ReadDataSource.Response)
    def ReadDataSource(self, request, context):
        data_source = self._data_sources[request.type_name]
        ty = data_source.type.object_type
        config = wire.decode(request.config, ty)
        state, diagnostics = data_source.read(self._configured(), config)
        return tf.ReadDataSource.Response(state=wire.encode(state, ty), diagnostics=wire.diagnostics(diagnostics))
