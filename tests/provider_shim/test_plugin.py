"""The go-plugin handshake, served by a real provider process and checked like Terraform checks it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from costory_proto import tfplugin6_pb2 as tf
from costory_proto import tfplugin6_pb2_grpc
from costory_proto.plugin import grpc_controller_pb2, grpc_controller_pb2_grpc
from provider_shim.plugin import MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE, dial
from tests.provider_shim.test_schema import RESOURCES


def start(env_overrides: dict[str, str]) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != MAGIC_COOKIE_KEY}
    env.update(env_overrides)
    return subprocess.Popen(
        [sys.executable, "-m", "provider_shim"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


@pytest.fixture(params=["openssl", "in-process"])
def plugin(request):
    """The certificate comes from the openssl CLI when it is on PATH, else from the cryptography package."""
    env = {MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE, "PLUGIN_PROTOCOL_VERSIONS": "5,6"}
    if request.param == "in-process":
        env["PATH"] = "/nonexistent"
    process = start(env)
    yield process
    if process.poll() is None:
        process.kill()
    process.wait()
    process.stdout.close()
    process.stderr.close()


def test_handshake_serves_tls_on_a_private_unix_socket_and_shuts_down(plugin):
    line = plugin.stdout.readline()
    core, app, network, address, protocol, certificate = line.strip().split("|")
    assert (core, app, network, protocol) == ("1", "6", "unix", "grpc")
    assert "=" not in certificate  # base64 without padding, as go-plugin decodes it
    socket_dir = Path(address).parent
    assert socket_dir.stat().st_mode & 0o777 == 0o700

    with dial(line) as channel:
        schema = tfplugin6_pb2_grpc.ProviderStub(channel).GetProviderSchema(tf.GetProviderSchema.Request(), timeout=10)
        assert sorted(schema.resource_schemas) == RESOURCES
        assert sorted(schema.data_source_schemas) == ["costory_service_account"]
        grpc_controller_pb2_grpc.GRPCControllerStub(channel).Shutdown(grpc_controller_pb2.Empty(), timeout=10)

    assert plugin.wait(timeout=10) == 0
    assert not socket_dir.exists()


def test_refuses_to_run_without_the_magic_cookie():
    process = start({})
    out, err = process.communicate(timeout=30)
    assert process.returncode == 1
    assert out == ""
    assert "is a Terraform provider plugin" in err


def test_refuses_a_terraform_that_does_not_speak_protocol_6():
    process = start({MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE, "PLUGIN_PROTOCOL_VERSIONS": "4,5"})
    out, err = process.communicate(timeout=30)
    assert process.returncode == 1
    assert out == ""
    assert err == "This provider speaks plugin protocol 6; Terraform offered 4,5.\n"
