"""A loopback stand-in for Google's OAuth 2.0 token endpoint, issuing ID tokens and access tokens for
embedded identities.

It speaks the protocol as google-auth's ``IDTokenCredentials`` and service-account ``Credentials`` use it:

1. the client POSTs a form ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>``;
   the assertion is RS256-signed with the service account's key and claims ``iss`` (its email), ``aud``
   (the token endpoint), ``iat``, ``exp`` and either ``target_audience`` (an ID token is wanted) or
   ``scope`` (an access token for Google APIs, e.g. BigQuery);
2. the endpoint finds the key by ``iss`` (and ``kid``) through the resolver it was given, verifies the
   signature and that the assertion is short-lived and current;
3. it answers ``{"id_token": <JWT>}``, or ``{"access_token": ..., "token_type": "Bearer", "expires_in": ...}``
   as Google does, both signed by an issuer key generated once per process (so a stand-in API can verify an
   access token with ``issuer_certs``), or a 400 with Google's error shape
   ``{"error": ..., "error_description": ...}`` (google-auth raises RefreshError).

It binds 127.0.0.1 only, serves from a daemon thread, and logs nothing about requests.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import crypt, exceptions, jwt

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
"""The ``aud`` google-auth puts in its assertions (ID and access tokens), whatever token URI it posts to."""
ISSUER = "https://accounts.google.com"
TOKEN_PATH = "/token"
CERTS_PATH = "/oauth2/v3/certs"
ID_TOKEN_LIFETIME_SECONDS = 3600
ACCESS_TOKEN_LIFETIME_SECONDS = 3600
_MAX_ASSERTION_LIFETIME_SECONDS = 3600
_CLOCK_SKEW_SECONDS = 30
_MAX_BODY_BYTES = 64 * 1024
_SHORT_LIVED = (
    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
    "Check your iat and exp values in the JWT claim."
)


@dataclass(frozen=True)
class TrustedKey:
    """What the endpoint knows of a service account: its public key, never the private one."""

    client_email: str
    client_id: str
    key_id: str | None
    public_key_pem: str


KeyResolver = Callable[[str], TrustedKey | None]
"""Service-account email (the assertion's ``iss``) -> its key, or None when unknown."""


class _IssuerKey:
    """The key ID tokens are signed with: generated once per process."""

    def __init__(self) -> None:
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public_der = private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.key_id = hashlib.sha256(public_der).hexdigest()[:40]
        self.signer = crypt.RSASigner(private_key, key_id=self.key_id)
        self.public_key_pem = (
            private_key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        numbers = private_key.public_key().public_numbers()
        self.jwk = {
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.key_id,
            "n": _b64url_uint(numbers.n),
            "e": _b64url_uint(numbers.e),
        }


_issuer: _IssuerKey | None = None
_issuer_lock = threading.Lock()


def _issuer_key() -> _IssuerKey:
    global _issuer
    with _issuer_lock:
        if _issuer is None:
            _issuer = _IssuerKey()
        return _issuer


def issuer_certs() -> dict[str, str]:
    """Key id -> PEM public key of the ID-token issuer: the ``certs`` google.auth.jwt.decode takes."""
    issuer = _issuer_key()
    return {issuer.key_id: issuer.public_key_pem}


def issuer_jwks() -> dict[str, Any]:
    """The issuer's public key as a JWK set (what ``/oauth2/v3/certs`` serves)."""
    return {"keys": [_issuer_key().jwk]}


class GrantError(Exception):
    """A refused token request, in OAuth 2.0 terms."""

    def __init__(self, error: str, description: str):
        super().__init__(description)
        self.error = error
        self.description = description


def exchange(form: Mapping[str, str], resolve: KeyResolver, accepted_audiences: set[str]) -> dict[str, Any]:
    """Answer one token request (the form fields): ``{"id_token": ...}`` when the assertion names a
    ``target_audience`` (Google gives it precedence), else an access token for its ``scope``; or raise
    GrantError."""
    grant_type = form.get("grant_type", "")
    if grant_type != JWT_BEARER_GRANT:
        raise GrantError("unsupported_grant_type", f"Invalid grant_type: {grant_type[:100]}")
    assertion = form.get("assertion")
    if not assertion:
        raise GrantError("invalid_request", "Missing required parameter: assertion")
    try:
        header = jwt.decode_header(assertion)
        unverified = jwt.decode(assertion, verify=False)
    except Exception:  # any parsing failure is the same answer
        raise GrantError("invalid_grant", "Invalid JWT: the assertion is not a well-formed JWT.") from None
    if not isinstance(header, dict) or header.get("alg") != "RS256" or not isinstance(unverified, dict):
        raise GrantError("invalid_grant", "Invalid JWT: the assertion must be signed with RS256.")
    issuer = unverified.get("iss")
    key = resolve(issuer) if isinstance(issuer, str) else None
    if key is None:
        raise GrantError("invalid_grant", "Invalid grant: account not found")
    if header.get("kid") is not None and header["kid"] != key.key_id:
        raise GrantError("invalid_grant", "Invalid JWT Signature.")
    if not all(isinstance(unverified.get(claim), int) for claim in ("iat", "exp")):
        raise GrantError("invalid_grant", _SHORT_LIVED)
    try:
        claims = jwt.decode(assertion, certs=key.public_key_pem, clock_skew_in_seconds=_CLOCK_SKEW_SECONDS)
    except exceptions.MalformedError:
        raise GrantError("invalid_grant", "Invalid JWT Signature.") from None
    except exceptions.InvalidValue:
        raise GrantError("invalid_grant", _SHORT_LIVED) from None
    if claims["exp"] - claims["iat"] > _MAX_ASSERTION_LIFETIME_SECONDS:
        raise GrantError("invalid_grant", _SHORT_LIVED)
    if claims.get("aud") not in accepted_audiences:
        raise GrantError("invalid_grant", "Invalid JWT: Failed audience check.")
    target_audience = claims.get("target_audience")
    scope = claims.get("scope")
    now = int(time.time())
    if isinstance(target_audience, str) and target_audience:
        id_token = jwt.encode(
            _issuer_key().signer,
            {
                "iss": ISSUER,
                "aud": target_audience,
                "azp": key.client_id,
                "sub": key.client_id,
                "email": key.client_email,
                "email_verified": True,
                "iat": now,
                "exp": now + ID_TOKEN_LIFETIME_SECONDS,
            },
        )
        return {"id_token": id_token.decode()}
    if isinstance(scope, str) and scope.strip():
        access_token = jwt.encode(
            _issuer_key().signer,
            {
                "iss": ISSUER,
                "azp": key.client_id,
                "sub": key.client_id,
                "email": key.client_email,
                "scope": " ".join(scope.split()),
                "iat": now,
                "exp": now + ACCESS_TOKEN_LIFETIME_SECONDS,
            },
        )
        return {
            "access_token": access_token.decode(),
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_LIFETIME_SECONDS,
        }
    raise GrantError("invalid_scope", "Invalid OAuth scope or ID token audience provided.")


class TokenEndpoint:
    """The endpoint on ``127.0.0.1:<free port>``: ``start()`` once, ``stop()`` when done."""

    def __init__(self, resolve: KeyResolver):
        self._resolve = resolve
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (only once started)."""
        if self._server is None:
            raise RuntimeError("the token endpoint is not running")
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    @property
    def token_uri(self) -> str:
        return self.url + TOKEN_PATH

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        if self._server is not None:
            return
        server = _Server(self)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="google-token-endpoint", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def _answer(self, form: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        try:
            return HTTPStatus.OK, exchange(form, self._resolve, {GOOGLE_TOKEN_URI, self.token_uri})
        except GrantError as refused:
            return HTTPStatus.BAD_REQUEST, {"error": refused.error, "error_description": refused.description}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, endpoint: TokenEndpoint):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.endpoint = endpoint


class _Handler(BaseHTTPRequestHandler):
    server_version = "costory-token-endpoint"
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        if path != TOKEN_PATH:
            self._drain(length)
            self._send(HTTPStatus.NOT_FOUND, {"error": "not_found", "error_description": "Unknown path."})
            return
        if length > _MAX_BODY_BYTES:
            self.close_connection = True
            self._send(
                HTTPStatus.BAD_REQUEST,
                {"error": "invalid_request", "error_description": "Request too large."},
            )
            return
        body = self.rfile.read(length).decode("utf-8", errors="replace")
        form = {
            name: values[0] for name, values in urllib.parse.parse_qs(body, keep_blank_values=True).items()
        }
        status, answer = cast(_Server, self.server).endpoint._answer(form)
        self._send(status, answer)

    def do_GET(self) -> None:
        if urllib.parse.urlsplit(self.path).path == CERTS_PATH:
            self._send(HTTPStatus.OK, issuer_jwks())
        else:
            self._send(HTTPStatus.NOT_FOUND, {"error": "not_found", "error_description": "Unknown path."})

    def _drain(self, length: int) -> None:
        if 0 < length <= _MAX_BODY_BYTES:
            self.rfile.read(length)
        elif length:
            self.close_connection = True

    def _send(self, status: int, answer: Mapping[str, Any]) -> None:
        body = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: request lines and errors are not logged (nothing here may leak a token)."""


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
