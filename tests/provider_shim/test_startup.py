"""What a provider process has imported when it prints the handshake and when it answers the schema.

Terraform starts the provider several times per plan, some only to read the schema, so the handshake must
not wait for the provider's own modules and the schema must not pull in the control-plane client or the
resource rules. The figures themselves are in bench/provider_bench.py; these tests keep the laziness from
silently regressing. A real provider process is started with a test-only wrapper (in ``CHILD`` below) that
snapshots ``sys.modules`` when the handshake line is written and, on each line sent to its stdin, prints
the modules loaded at that moment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import grpc
import pytest

from costory_proto import tfplugin6_pb2 as tf
from costory_proto import tfplugin6_pb2_grpc
from costory_proto.plugin import grpc_controller_pb2, grpc_controller_pb2_grpc
from provider_shim import wire
from provider_shim.plugin import MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE, dial
from provider_shim.schema import provider_schema
from tests.provider_shim.test_schema import RESOURCES

CHILD = """
import json, sys, threading

from provider_shim import plugin

at_handshake = []


class Stdout:
    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        if not at_handshake:
            at_handshake.append(sorted(sys.modules))
        return self.stream.write(text)

    def flush(self):
        self.stream.flush()


def report():
    for _ in sys.stdin:
        sys.stdout.stream.write(json.dumps({"at_handshake": at_handshake[0], "now": sorted(sys.modules)}) + "\\n")
        sys.stdout.stream.flush()


sys.stdout = Stdout(sys.stdout)
threading.Thread(target=report, daemon=True).start()
sys.exit(plugin.serve())
"""

PROVIDER_MODULES = [
    "costory_proto.tfplugin6_pb2",
    "costory_proto.tfplugin6_pb2_grpc",
    "costory_proto.costory.v1.team_pb2",
    "provider_shim.server",
    "provider_shim.schema",
    "provider_shim.cty",
    "msgpack",
]
"""Needed from the first RPC on, but not to print the handshake."""

RPC_MODULES = [
    "provider_shim.client",
    "provider_shim.resources",
    "provider_shim.messages",
    "costory_schema.rules",
    "grpc_status",
    "google.rpc.error_details_pb2",
    "cryptography",
]
"""Needed by the RPCs that validate, configure or call the control plane, not by the schema RPCs."""


class Provider:
    def __init__(self):
        env = {**os.environ, MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE, "PLUGIN_PROTOCOL_VERSIONS": "6"}
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-c", CHILD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.handshake = self.process.stdout.readline()
        self.channel = dial(self.handshake)
        self.provider = tfplugin6_pb2_grpc.ProviderStub(self.channel)

    def modules(self) -> dict[str, list[str]]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("modules\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def shut_down(self) -> int:
        grpc_controller_pb2_grpc.GRPCControllerStub(self.channel).Shutdown(grpc_controller_pb2.Empty(), timeout=30)
        self.channel.close()
        return self.process.wait(timeout=30)


@pytest.fixture
def provider():
    started = Provider()
    yield started
    started.channel.close()
    if started.process.poll() is None:
        started.process.kill()
    started.process.communicate(timeout=30)


def loaded(modules: list[str], names: list[str]) -> list[str]:
    return [name for name in names if name in modules]


def test_the_handshake_waits_only_for_grpc_not_for_the_provider(provider):
    at_handshake = provider.modules()["at_handshake"]

    assert "grpc" in at_handshake
    assert loaded(at_handshake, PROVIDER_MODULES) == []
    assert loaded(at_handshake, RPC_MODULES) == []
    assert provider.shut_down() == 0


def test_the_schema_is_answered_without_the_client_resources_or_rules(provider):
    schema = provider.provider.GetProviderSchema(tf.GetProviderSchema.Request(), timeout=30)
    metadata = provider.provider.GetMetadata(tf.GetMetadata.Request(), timeout=30)
    now = provider.modules()["now"]

    assert len(schema.resource_schemas) == len(RESOURCES)
    assert sorted(r.type_name for r in metadata.resources) == sorted(schema.resource_schemas)
    assert [d.type_name for d in metadata.data_sources] == ["costory_service_account"]
    assert loaded(now, PROVIDER_MODULES) == PROVIDER_MODULES
    assert loaded(now, RPC_MODULES) == []
    assert provider.shut_down() == 0


def test_the_rpcs_that_need_them_import_them_and_answer_as_before(provider):
    schema = provider_schema()
    team = schema.resources["costory_team"]
    config = {a.name: None for a in team.attributes} | {"name": ""}
    validated = provider.provider.ValidateResourceConfig(
        tf.ValidateResourceConfig.Request(type_name="costory_team", config=wire.encode(config, team.object_type)),
        timeout=30,
    )
    provider_config = {"token": None, "base_url": "ftp://example.com"}
    provider_validated = provider.provider.ValidateProviderConfig(
        tf.ValidateProviderConfig.Request(config=wire.encode(provider_config, schema.provider.object_type)),
        timeout=30,
    )
    now = provider.modules()["now"]

    assert [(d.severity, d.summary, d.detail, d.attribute) for d in validated.diagnostics] == [
        (tf.Diagnostic.ERROR, "Empty Value", "`name` must not be empty.", wire.attribute_path(("name",)))
    ]
    assert [(d.severity, d.summary, d.detail, d.attribute) for d in provider_validated.diagnostics] == [
        (
            tf.Diagnostic.ERROR,
            "Invalid Control Plane Address",
            "`base_url` is `ftp://example.com`; use `host:port`, `grpc://host:port` or `https://host:port`.",
            wire.attribute_path(("base_url",)),
        )
    ]
    assert loaded(now, RPC_MODULES) == [
        "provider_shim.client",
        "provider_shim.resources",
        "provider_shim.messages",
        "costory_schema.rules",
        "grpc_status",
        "google.rpc.error_details_pb2",
    ]
    assert provider.shut_down() == 0


@pytest.mark.parametrize(
    "method",
    ["/plugin.GRPCStdio/StreamStdio", "/tfplugin6.Provider/NoSuchRpc"],
    ids=["service not served", "method not in the provider"],
)
def test_an_rpc_the_plugin_does_not_serve_is_unimplemented(provider, method):
    call = provider.channel.unary_unary(method)
    with pytest.raises(grpc.RpcError) as raised:
        call(b"", timeout=30)

    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert provider.provider.GetProviderSchema(tf.GetProviderSchema.Request(), timeout=30).resource_schemas
    assert provider.shut_down() == 0


def test_the_launcher_loads_only_the_lightest_modules_before_handing_over():
    """The launcher Terraform executes runs ``python -I -S`` (see provider_shim.launcher.script): on the warm path
    its interpreter start and imports are most of what a start costs."""
    from provider_shim.launcher import ROOT

    probe = (
        "import os, sys; base = set(sys.modules); sys.path.append(sys.argv[1]); import provider_shim.launcher; "
        "print(' '.join(sorted(set(sys.modules) - base)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe, ROOT], capture_output=True, text=True, check=True
    ).stdout.split()

    assert loaded == ["__future__", "_socket", "provider_shim", "provider_shim.launcher", "zlib"]
