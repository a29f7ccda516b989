"""go-plugin host side: the handshake Terraform expects from a provider process.

Terraform starts the provider with a magic cookie in the environment, reads one handshake line from
its stdout (``core|app-protocol|network|address|grpc|server-cert``) and dials the address with TLS,
trusting exactly the certificate in that line. We listen on a unix socket inside a fresh 0700
directory, so only this user can connect, and serve TLS with a key made at start-up. Terraform's
client certificate (P-521, which grpcio's TLS stack rejects) is not requested; the socket's
permissions do the client authentication.
"""

from __future__ import annotations

import base64
import datetime
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
from concurrent import futures

import grpc

MAGIC_COOKIE_KEY = "TF_PLUGIN_MAGIC_COOKIE"
MAGIC_COOKIE_VALUE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
CORE_PROTOCOL_VERSION = 1
APP_PROTOCOL_VERSION = 6

log = logging.getLogger("provider_shim")


def self_signed_certificate() -> tuple[bytes, bytes, bytes]:
    """A fresh P-256 key and a certificate for ``localhost`` (the name go-plugin verifies): PEM key,
    PEM certificate and DER certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(seconds=30))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=True,
                key_cert_sign=True,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM), certificate.public_bytes(
        serialization.Encoding.DER
    )


def handshake_line(socket_path: str, certificate_der: bytes) -> str:
    # go-plugin decodes the certificate with base64.RawStdEncoding: standard alphabet, no padding.
    encoded = base64.b64encode(certificate_der).decode().rstrip("=")
    return f"{CORE_PROTOCOL_VERSION}|{APP_PROTOCOL_VERSION}|unix|{socket_path}|grpc|{encoded}"


class _Controller:
    """plugin.GRPCController: Terraform's request to shut down."""

    def __init__(self, stop: threading.Event):
        self._stop = stop

    def Shutdown(self, request, context):
        from costory_proto.plugin import grpc_controller_pb2

        self._stop.set()
        return grpc_controller_pb2.Empty()


class _DeferredProvider:
    """Stands in for ``ProviderService`` until it is loaded, so the handshake line does not wait for the
    schema and control-plane client modules; every RPC waits for the load."""

    def __init__(self):
        self._loaded = threading.Event()
        self._service = None

    def load(self) -> None:
        from provider_shim.server import ProviderService

        self._service = ProviderService()
        self._loaded.set()

    def __getattr__(self, rpc: str):
        def call(request, context):
            self._loaded.wait()
            return getattr(self._service, rpc)(request, context)

        return call


def serve() -> int:
    if os.environ.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE_VALUE:
        sys.stderr.write(
            "This binary is a Terraform provider plugin (costory-io/costory). It is not meant to be run "
            "directly: run `terraform init` in a configuration that uses it.\n"
        )
        return 1
    versions = os.environ.get("PLUGIN_PROTOCOL_VERSIONS", str(APP_PROTOCOL_VERSION)).split(",")
    if str(APP_PROTOCOL_VERSION) not in [v.strip() for v in versions]:
        sys.stderr.write(f"This provider speaks plugin protocol 6; Terraform offered {','.join(versions)}.\n")
        return 1

    from costory_proto import tfplugin6_pb2_grpc
    from costory_proto.plugin import grpc_controller_pb2_grpc

    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # Terraform forwards Ctrl-C to the whole process group; it stops us through Shutdown instead.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    stop = threading.Event()
    socket_dir = tempfile.mkdtemp(prefix="costory-plugin-")  # mode 0700
    socket_path = os.path.join(socket_dir, "provider.sock")
    key_pem, cert_pem, cert_der = self_signed_certificate()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    provider = _DeferredProvider()
    tfplugin6_pb2_grpc.add_ProviderServicer_to_server(provider, server)
    grpc_controller_pb2_grpc.add_GRPCControllerServicer_to_server(_Controller(stop), server)
    server.add_secure_port(f"unix:{socket_path}", grpc.ssl_server_credentials([(key_pem, cert_pem)]))
    server.start()
    try:
        sys.stdout.write(handshake_line(socket_path, cert_der) + "\n")
        sys.stdout.flush()
        provider.load()  # while Terraform connects
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        stop.wait()
        server.stop(grace=1).wait()
    finally:
        shutil.rmtree(socket_dir, ignore_errors=True)
    return 0
