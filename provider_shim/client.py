"""The control-plane connection: one channel, the tenant token sent as call metadata, and gRPC errors
turned into diagnostics that say what to do (never a traceback, never the token)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import grpc
from google.protobuf import descriptor_pool
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from provider_shim.diagnostics import Diagnostic, error, located

DEFAULT_ADDRESS = "127.0.0.1:50051"
# Creating a datasource proves the customer's role works, which may wait out IAM propagation.
CALL_TIMEOUT_SECONDS = 120.0
_PATH_STEP = re.compile(r"([A-Za-z_]\w*)|\[(\d+)\]")


class ControlPlaneError(Exception):
    """A failed call, already phrased as diagnostics."""

    def __init__(self, code: grpc.StatusCode, diagnostics: list[Diagnostic]):
        super().__init__(diagnostics[0].detail if diagnostics else code.name)
        self.code = code
        self.diagnostics = diagnostics


@dataclass(frozen=True)
class Target:
    address: str
    tls: bool


def parse_base_url(base_url: str | None) -> Target:
    """``host:port``, ``grpc://host:port`` and ``http://`` are plaintext; ``https://`` uses TLS."""
    if not base_url:
        return Target(DEFAULT_ADDRESS, tls=False)
    if "://" not in base_url:
        return Target(base_url, tls=False)
    parts = urlsplit(base_url)
    if parts.scheme not in ("grpc", "http", "https", "grpcs") or not parts.hostname:
        raise ValueError(
            f"`base_url` is `{base_url}`; use `host:port`, `grpc://host:port` or `https://host:port`."
        )
    tls = parts.scheme in ("https", "grpcs")
    port = parts.port or (443 if tls else 80)
    return Target(f"{parts.hostname}:{port}", tls=tls)


def field_path(field: str) -> tuple[str | int, ...]:
    """``metrics_definition[1].gap_filling`` -> ("metrics_definition", 1, "gap_filling")."""
    return tuple(name if name else int(index) for name, index in _PATH_STEP.findall(field))


BUSY_BUDGET_SECONDS = 120.0
"""How long a call keeps waiting, in all, for a busy control plane (RESOURCE_EXHAUSTED / UNAVAILABLE with a
retry delay) before the error is shown."""


def _retry_delay(exc: grpc.RpcError) -> float | None:
    """The delay a busy control plane asks for (google.rpc.RetryInfo), between 0.05 and 5 s; None when the error
    is not one to retry."""
    if exc.code() not in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE):
        return None
    status = rpc_status.from_call(exc)
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return min(max(info.retry_delay.ToTimedelta().total_seconds(), 0.05), 5.0)
    return None


class ControlPlane:
    def __init__(self, target: Target, token: str):
        self.target = target
        self._metadata = (("authorization", f"Bearer {token}"),)
        credentials = grpc.ssl_channel_credentials() if target.tls else None
        self._channel = (
            grpc.secure_channel(target.address, credentials) if credentials else grpc.insecure_channel(target.address)
        )

    def close(self) -> None:
        self._channel.close()

    def call(self, service: str, method: str, request: Message | None = None, **fields: Any) -> Any:
        """Call ``service/method``; the request is built from ``fields`` when not given. The response is the
        method's output message, a class known only at run time (hence ``Any``)."""
        descriptor = descriptor_pool.Default().FindServiceByName(service).FindMethodByName(method)
        request_class = GetMessageClass(descriptor.input_type)
        response_class = GetMessageClass(descriptor.output_type)
        if request is None:
            request = request_class(**fields)
        stub = self._channel.unary_unary(
            f"/{service}/{method}",
            request_serializer=request_class.SerializeToString,
            response_deserializer=response_class.FromString,
        )
        waited = 0.0
        while True:
            try:
                return stub(request, metadata=self._metadata, timeout=CALL_TIMEOUT_SECONDS)
            except grpc.RpcError as exc:
                # Terraform creates up to 10 resources at once; a control plane at its admission limit says when
                # to come back (RetryInfo), and the call is made again rather than failing the apply.
                delay = _retry_delay(exc)
                if delay is None or waited + delay > BUSY_BUDGET_SECONDS:
                    raise ControlPlaneError(exc.code(), self._diagnostics(exc, method)) from None
                time.sleep(delay)
                waited += delay

    def _diagnostics(self, exc: grpc.RpcError, method: str) -> list[Diagnostic]:
        code = exc.code()
        message = exc.details() or ""
        if code == grpc.StatusCode.UNAVAILABLE:
            return [
                error(
                    "Control Plane Unreachable",
                    f"Could not reach the Costory control plane at {self.target.address} "
                    f"({'TLS' if self.target.tls else 'plaintext'}). Check `base_url` (or COSTORY_BASE_URL) "
                    "and that `costory-control-plane serve` is running.",
                )
            ]
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return [
                error(
                    "Control Plane Timeout",
                    f"The control plane at {self.target.address} did not answer {method} within "
                    f"{CALL_TIMEOUT_SECONDS:.0f}s.",
                )
            ]
        if code == grpc.StatusCode.UNAUTHENTICATED:
            return [
                error(
                    "Authentication Failed",
                    f"The control plane at {self.target.address} rejected the API token. Set `token` "
                    "(or COSTORY_TOKEN) to a token printed by `costory-control-plane tenants create`.",
                    ("token",),
                )
            ]
        if code == grpc.StatusCode.INVALID_ARGUMENT:
            violations = self._field_violations(exc)
            if violations:
                return [
                    error("Invalid Attribute Value", located(text, field_path(field)), field_path(field))
                    for field, text in violations
                ]
        return [error(f"Control Plane Error ({code.name})", message or f"{method} failed.")]

    @staticmethod
    def _field_violations(exc: grpc.RpcError) -> list[tuple[str, str]]:
        status = rpc_status.from_call(exc)
        if status is None:
            return []
        out: list[tuple[str, str]] = []
        for detail in status.details:
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad_request = error_details_pb2.BadRequest()
                detail.Unpack(bad_request)
                out.extend((v.field, v.description) for v in bad_request.field_violations)
        return out
