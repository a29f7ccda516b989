"""The HTTP server every API stand-in runs on: one thread per request on 127.0.0.1, a route table, the
credential check, scripted faults, and a record of the requests received (tests assert on them)."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    """Each parameter's values in order (`group_by[]` may repeat)."""
    headers: Mapping[str, str]
    body: Any
    """The JSON body, or None."""

    def one(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any = None
    """Sent as JSON; bytes are sent as they are (JSON text ``json.dumps`` would not write, e.g. a number with
    more digits than a double holds)."""
    headers: Mapping[str, str] = field(default_factory=dict)


Route = Callable[[Request], Reply]
Authenticate = Callable[[Request], bool]


class LoopbackApi:
    """Serves ``routes`` (``{(method, path): handler}``; a path ending in `/*` matches any suffix) on
    127.0.0.1. ``authenticate`` decides whether a request's credential is accepted (401 otherwise);
    ``fail_next`` scripts the next replies (e.g. a 429 with Retry-After), ``revoke`` makes every later
    request answer 401 as a revoked key does."""

    def __init__(self, routes: Mapping[tuple[str, str], Route], authenticate: Authenticate):
        self.routes = dict(routes)
        self.authenticate = authenticate
        self.requests: list[Request] = []
        self.revoked = False
        self._faults: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail_next(self, *replies: Reply) -> None:
        with self._lock:
            self._faults.extend(replies)

    def revoke(self) -> None:
        self.revoked = True

    def _reply(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            fault = self._faults.popleft() if self._faults else None
        if fault is not None:
            return fault
        if self.revoked or not self.authenticate(request):
            return Reply(401, {"error": {"type": "authentication_error", "message": "invalid x-api-key"}})
        route = self.routes.get((request.method, request.path))
        if route is None:
            route = next(
                (
                    handler
                    for (method, path), handler in self.routes.items()
                    if method == request.method and path.endswith("/*") and request.path.startswith(path[:-1])
                ),
                None,
            )
        if route is None:
            return Reply(404, {"error": {"type": "not_found_error", "message": f"no route {request.path}"}})
        return route(request)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                request = Request(
                    self.command,
                    parts.path,
                    parse_qs(parts.query, keep_blank_values=True),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                reply = api._reply(request)
                payload = (
                    b""
                    if reply.body is None
                    else reply.body
                    if isinstance(reply.body, bytes)
                    else json.dumps(reply.body).encode()
                )
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = _serve
            do_POST = _serve

        return Handler
