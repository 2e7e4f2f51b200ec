"""A real local HTTP server that stands in for WeCom, the bridge or any JSON API in tests.

`FakeHTTPServer` listens on 127.0.0.1 (a free port), records every request and answers from a
per-path queue of scripted `Reply`s, falling back to a per-path default and then to
`{"errcode": 0, "errmsg": "ok"}`. `/cgi-bin/gettoken` answers a fresh access token
(`fake-token-1`, `fake-token-2`, …) unless replies are queued or a default is set for it.
Answers are immediate, so tests never wait on wall time; arrival times come from an injectable
clock. Request bodies must carry Content-Length (httpx does; chunked uploads are not read).
`stop()` also cuts open keep-alive connections, so a stopped server is really unreachable.

    with FakeHTTPServer() as server:
        server.queue("/cgi-bin/webhook/send", Reply.wecom_error(45009, "api freq out of limit"))
        ...  # point the code under test at server.url
        assert server.requests_to("/cgi-bin/webhook/send")[0].json_body["msgtype"] == "text"
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, cast
from urllib.parse import parse_qsl, urlsplit

from app.clock import Clock, SystemClock

GETTOKEN_PATH = "/cgi-bin/gettoken"
TOKEN_EXPIRES_IN = 7200
_POLL_INTERVAL = 0.01  # how fast serve_forever notices shutdown()


def _ok() -> dict[str, Any]:
    return {"errcode": 0, "errmsg": "ok"}


@dataclass(frozen=True, slots=True)
class Reply:
    """One scripted answer. `body` (raw bytes) wins over `json_body`; `drop` closes the
    connection without answering, which the client sees as a network error."""

    status: int = 200
    json_body: Any = field(default_factory=_ok)
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    drop: bool = False

    @classmethod
    def wecom_error(cls, errcode: int, errmsg: str = "error") -> Reply:
        """A WeCom-style failure: HTTP 200 with a non-zero errcode."""
        return cls(json_body={"errcode": errcode, "errmsg": errmsg})

    def encoded(self) -> bytes:
        if self.body is not None:
            return self.body
        return json.dumps(self.json_body, ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A request as the server saw it. Header names are lower-cased; `query` keeps the last
    value of a repeated parameter; `json_body` is None when the body is empty or not JSON."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    json_body: Any
    received_at: datetime


class FakeHTTPServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 with scripted answers; use as a context manager."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Reply]] = {}
        self._defaults: dict[str, Reply] = {}
        self._requests: list[RecordedRequest] = []
        self._tokens_issued = 0
        self.token_expires_in = TOKEN_EXPIRES_IN
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> None:
        if self._httpd is not None:
            raise RuntimeError("server already started")
        self._httpd = _Server(("127.0.0.1", 0), _Handler, fake=self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL},
            name=f"fake-http-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop listening and cut open keep-alive connections, so the origin is really gone."""
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.close_connections()
        if self._thread is not None:
            self._thread.join()
        self._httpd, self._thread = None, None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # addresses

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The origin, e.g. `http://127.0.0.1:54321` (use as WECOM_API_BASE)."""
        return f"http://127.0.0.1:{self.port}"

    def url_for(self, path: str) -> str:
        return f"{self.url}{path}"

    # scripting

    def queue(self, path: str, *replies: Reply) -> None:
        """Answer the next requests to `path` with these replies, in order, then the default."""
        with self._lock:
            self._queues.setdefault(path, deque()).extend(replies)

    def set_default(self, path: str, reply: Reply) -> None:
        """Answer `path` with `reply` whenever nothing is queued for it."""
        with self._lock:
            self._defaults[path] = reply

    # inspection

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [request for request in self.requests if request.path == path]

    @property
    def tokens_issued(self) -> int:
        """How many access tokens the built-in /cgi-bin/gettoken has handed out."""
        with self._lock:
            return self._tokens_issued

    # called from the handler threads

    def _answer(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self._requests.append(request)
            pending = self._queues.get(request.path)
            if pending:
                return pending.popleft()
            if request.path in self._defaults:
                return self._defaults[request.path]
            if request.path == GETTOKEN_PATH:
                self._tokens_issued += 1
                token = f"fake-token-{self._tokens_issued}"
                return Reply(
                    json_body={**_ok(), "access_token": token, "expires_in": self.token_expires_in}
                )
            return Reply()

    def _now(self) -> datetime:
        return self._clock.now()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        *,
        fake: FakeHTTPServer,
    ) -> None:
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def track(self, connection: socket.socket, *, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse-DNS lookup (`getfqdn`), which can take seconds."""
        socketserver.TCPServer.server_bind(self)
        self.server_name = "127.0.0.1"
        self.server_port = int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up (timeouts, closed pools) are normal here; stay quiet about it."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real API behind a load balancer
    disable_nagle_algorithm = True  # headers and body are separate writes; avoid 40 ms stalls

    def setup(self) -> None:
        super().setup()
        cast(_Server, self.server).track(self.connection, open_=True)

    def finish(self) -> None:
        cast(_Server, self.server).track(self.connection, open_=False)
        super().finish()

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default per-request stderr line."""

    def _handle(self) -> None:
        fake = cast(_Server, self.server).fake
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = RecordedRequest(
            method=self.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            json_body=_parse_json(body),
            received_at=fake._now(),
        )
        reply = fake._answer(request)
        if reply.drop:
            self.close_connection = True
            return
        payload = reply.encoded()
        self.send_response(reply.status)
        headers = {"Content-Type": "application/json; charset=utf-8", **reply.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _parse_json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None
