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
import logging
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
from concurrent import futures
from typing import TYPE_CHECKING, cast

from provider_shim.launcher import MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE

if TYPE_CHECKING:
    import grpc

    from provider_shim.server import ProviderService

__all__ = [
    "MAGIC_COOKIE_KEY", "MAGIC_COOKIE_VALUE", "CertificateMaker", "Listener", "dial", "handshake_line",
    "make_certificate", "serve"
]  # fmt: skip
CORE_PROTOCOL_VERSION = 1
APP_PROTOCOL_VERSION = 6

log = logging.getLogger("provider_shim")


_OPENSSL_REQ = [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", "/dev/stdout", "-out", "/dev/stdout", "-subj", "/CN=localhost", "-days", "1",
    "-addext", "subjectAltName=DNS:localhost",
    "-addext", "basicConstraints=critical,CA:TRUE",
    "-addext", "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign",
    "-addext", "extendedKeyUsage=serverAuth,clientAuth",
]  # fmt: skip


class CertificateMaker:
    """A fresh P-256 key and self-signed certificate for ``localhost`` (the name go-plugin verifies).

    The openssl CLI makes them in a child process while this one imports grpc, which keeps start-up
    short; without openssl, the cryptography package makes them in-process.
    """

    def __init__(self, made: tuple[bytes, bytes] | None = None):
        """``made``: a key and certificate made ahead of time (by the zygote), used as they are."""
        self._made = made
        openssl = None if made else shutil.which("openssl")
        self._process = None
        if openssl:
            self._process = subprocess.Popen(
                [openssl, *_OPENSSL_REQ], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
            )

    def ready(self) -> bool:
        """Whether ``result`` would answer without waiting."""
        return self._process is None or self._process.poll() is not None

    def result(self) -> tuple[bytes, bytes]:
        """PEM key and PEM certificate."""
        if self._made is not None:
            return self._made
        if self._process is not None:
            out, _ = self._process.communicate(timeout=30)
            key_start, cert_start = out.find(b"-----BEGIN PRIVATE KEY-----"), out.find(b"-----BEGIN CERTIFICATE-----")
            if self._process.returncode == 0 and key_start >= 0 and cert_start >= 0:
                if key_start < cert_start:
                    return out[key_start:cert_start], out[cert_start:]
                return out[key_start:], out[cert_start:key_start]
        return make_certificate()


def make_certificate() -> tuple[bytes, bytes]:
    """The key and certificate made in-process with the cryptography package (the warm zygote's way)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
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
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM)


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


class _Registry:
    """Collects the handlers a generated ``add_*Servicer_to_server`` registers, in place of a server."""

    def __init__(self):
        self.handlers: list = []

    def add_generic_rpc_handlers(self, handlers) -> None:
        self.handlers.extend(handlers)

    def add_registered_method_handlers(self, service: str, handlers) -> None:
        pass  # the generic handlers above cover the same methods


_SERVED = ("/tfplugin6.Provider/", "/plugin.GRPCController/")


class _DeferredServices:
    """The server's one generic RPC handler. It is registered before anything but grpc is imported, so the
    handshake line waits for neither the tfplugin6 stubs nor the provider; each RPC arrives as bytes, waits
    for ``load`` and is then decoded and answered by the generated handler."""

    def __init__(self):
        self._loaded = threading.Event()
        self._handlers: list | None = None

    def load(self, stop: threading.Event, service: ProviderService | None = None) -> None:
        try:
            from costory_proto import tfplugin6_pb2_grpc
            from costory_proto.plugin import grpc_controller_pb2_grpc
            from provider_shim.server import ProviderService

            registry = _Registry()
            tfplugin6_pb2_grpc.add_ProviderServicer_to_server(service or ProviderService(), registry)
            grpc_controller_pb2_grpc.add_GRPCControllerServicer_to_server(_Controller(stop), registry)
            self._handlers = registry.handlers
        finally:
            self._loaded.set()  # after a failed load, RPCs fail at once rather than hang Terraform

    def service(self, call_details):
        import grpc

        if not call_details.method.startswith(_SERVED):
            return None  # e.g. go-plugin's GRPCStdio: UNIMPLEMENTED at once, as Terraform expects

        def answer(request: bytes, context):
            self._loaded.wait()
            if self._handlers is None:
                context.abort(grpc.StatusCode.UNAVAILABLE, "the provider failed to start; its log says why")
            handler = next(filter(None, (h.service(call_details) for h in self._handlers or ())), None)
            if handler is not None and handler.unary_unary is not None:
                response = handler.unary_unary(handler.request_deserializer(request), context)
                return handler.response_serializer(response)
            context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{call_details.method} is not served by this plugin")

        return grpc.unary_unary_rpc_method_handler(answer)


def new_socket_dir() -> str:
    """A fresh directory (mode 0700) for the plugin's socket, removed when the plugin ends."""
    return tempfile.mkdtemp(prefix="costory-plugin-")


class Listener:
    """The plugin's gRPC server, up on a fresh private socket with a fresh certificate, and its handshake line.
    Nothing in it depends on the environment Terraform passes, so a warm zygote can start one ahead of the
    launcher it will serve."""

    def __init__(self, certificate: tuple[bytes, bytes] | None = None):
        maker = CertificateMaker(certificate)  # first, so openssl works while grpc is imported

        import grpc

        self.stop = threading.Event()
        self.services = _DeferredServices()
        self.socket_dir = new_socket_dir()
        try:
            socket_path = os.path.join(self.socket_dir, "provider.sock")
            key_pem, cert_pem = maker.result()
            self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
            self.server.add_generic_rpc_handlers((cast("grpc.GenericRpcHandler", self.services),))
            self.server.add_secure_port(f"unix:{socket_path}", grpc.ssl_server_credentials([(key_pem, cert_pem)]))
            self.server.start()
        except BaseException:
            self.close()
            raise
        self.line = handshake_line(socket_path, ssl.PEM_cert_to_DER_cert(cert_pem.decode()))

    def close(self) -> None:
        shutil.rmtree(self.socket_dir, ignore_errors=True)


def _refusal() -> str | None:
    """Why this process cannot serve the Terraform that started it, if it cannot."""
    if os.environ.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE_VALUE:
        return (
            "This binary is a Terraform provider plugin (costory-io/costory). It is not meant to be run "
            "directly: run `terraform init` in a configuration that uses it.\n"
        )
    versions = os.environ.get("PLUGIN_PROTOCOL_VERSIONS", str(APP_PROTOCOL_VERSION)).split(",")
    if str(APP_PROTOCOL_VERSION) not in [v.strip() for v in versions]:
        return f"This provider speaks plugin protocol 6; Terraform offered {','.join(versions)}.\n"
    return None


def serve(
    certificate: tuple[bytes, bytes] | None = None,
    service: ProviderService | None = None,
    listener: Listener | None = None,
) -> int:
    """Serve one Terraform run. A warm start (``provider_shim.zygote``) passes the provider service it built
    before forking and the listener (or the key pair for one) it started ahead."""
    refusal = _refusal()
    if refusal is not None:
        if listener is not None:
            listener.close()
        sys.stderr.write(refusal)
        return 1

    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # Terraform forwards Ctrl-C to the whole process group; it stops us through Shutdown instead.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    listener = listener or Listener(certificate)
    try:
        sys.stdout.write(listener.line + "\n")
        sys.stdout.flush()
        listener.services.load(listener.stop, service)  # while Terraform connects
        signal.signal(signal.SIGTERM, lambda *_: listener.stop.set())
        listener.stop.wait()
        listener.server.stop(grace=1).wait()  # lets the Shutdown answer go out
    finally:
        listener.close()
    # Terraform waits for the process to end; tearing down the interpreter and grpc's threads costs tens of
    # milliseconds per provider start and has nothing left to release.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def dial(line: str):
    """A TLS channel to the plugin that printed handshake ``line``, verified as go-plugin verifies it
    (the certificate from the line, server name ``localhost``). Used by tests and benchmarks."""
    import grpc

    _core, _app, network, address, _protocol, encoded = line.strip().split("|")
    der = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
    credentials = grpc.ssl_channel_credentials(root_certificates=ssl.DER_cert_to_PEM_cert(der).encode())
    return grpc.secure_channel(
        f"{network}:{address}", credentials, options=[("grpc.ssl_target_name_override", "localhost")]
    )
