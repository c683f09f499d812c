"""A tiny threaded HTTP server for loopback emulators: routes, a request journal and fault injection.

Each emulator (Slack, Jira, GitHub Actions, an issuer...) subclasses `Emulator`, registers handlers
with `route()`, and is used as a context manager::

    with SlackEmulator(data_dir) as emu:
        client = WebClient(token=..., base_url=emu.url + "/api/")
        ...
        assert [r.path for r in emu.journal] == [...]

Faults are queued per path prefix and consumed by the next matching requests (`emu.fail(...)`),
so a test can say "the second page answers 429 with Retry-After: 1" without touching handlers.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


def data_dir_arg(description: str, holds: str) -> Path:
    """The `--data DIR` argument of a standalone emulator (`python -m tests.emulators.X --data DIR`)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", required=True, type=Path, help=f"directory holding {holds}")
    return Path(parser.parse_args().data)


@dataclass
class Request:
    """One request as the emulator saw it (kept in `Emulator.journal`)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    host: str

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode("utf-8", "replace"))

    def arg(self, name: str, default: str | None = None) -> str | None:
        """A query-string or form field (first value)."""
        values = self.query.get(name) or (self.form().get(name) if self.body else None)
        return values[0] if values else default


@dataclass
class Response:
    status: int = 200
    body: bytes | str | Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to sleep before answering (slow responses, timeouts)
    reset: bool = False  # close the connection without answering (connection reset)

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        self.headers.setdefault("Content-Type", "application/json; charset=utf-8")
        return json.dumps(self.body).encode()


Handler = Callable[[Request], Response]


@dataclass
class _Fault:
    prefix: str
    response: Response
    times: int
    after: int = 0  # matching requests let through first (a fault on the second page, mid-scan)


class Emulator:
    """Base class: a loopback HTTP server on 127.0.0.1 with an ephemeral port."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, str, Handler]] = []
        self.journal: list[Request] = []
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- configuration ---------------------------------------------------------------------------

    def route(self, method: str, prefix: str, handler: Handler) -> None:
        """Answer `method` requests whose path starts with `prefix` (longest prefix wins)."""
        self.routes.append((method.upper(), prefix, handler))
        self.routes.sort(key=lambda r: -len(r[1]))

    def fail(self, prefix: str, status: int = 500, *, times: int = 1, body: Any = b"",
             headers: dict[str, str] | None = None, delay: float = 0.0, reset: bool = False,
             after: int = 0) -> None:
        """The next `times` requests under `prefix` (after letting `after` through) get this answer
        instead of the real one."""
        with self._lock:
            self._faults.append(_Fault(prefix, Response(status, body, dict(headers or {}), delay, reset), times,
                                       after))

    def rate_limit(self, prefix: str, retry_after: int = 1, *, times: int = 1, body: Any = b"",
                   after: int = 0) -> None:
        """The next `times` requests under `prefix` answer 429 with an integer Retry-After."""
        self.fail(prefix, 429, times=times, body=body, headers={"Retry-After": str(retry_after)}, after=after)

    # --- lifecycle -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "emulator not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Emulator:
        emulator = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
                pass

            def _serve(self) -> None:
                emulator._handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _serve

        class _Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                import sys

                if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that gave up (timeout)
                    super().handle_error(request, client_address)

        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def standalone_url(self) -> str:
        """The URL to give sprawlguard when run standalone (an emulator may add a path)."""
        return self.url

    def serve_forever(self) -> None:
        """For `python -m tests.emulators.<name> --data DIR`: print the URL and block."""
        self.start()
        print(self.standalone_url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            self.stop()

    # --- request handling ------------------------------------------------------------------------

    def _take_fault(self, path: str) -> Response | None:
        with self._lock:
            for f in self._faults:
                if path.startswith(f.prefix) and f.times > 0:
                    if f.after > 0:
                        f.after -= 1
                        continue
                    f.times -= 1
                    return f.response
        return None

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        req = Request(h.command, parts.path, parse_qs(parts.query), {k.lower(): v for k, v in h.headers.items()},
                      body, h.headers.get("Host", ""))
        with self._lock:
            self.journal.append(req)
        resp = self._take_fault(parts.path)
        if resp is None:
            handler = next((fn for m, p, fn in self.routes if m == h.command and parts.path.startswith(p)), None)
            try:
                resp = handler(req) if handler else Response(404, {"error": "not found", "path": parts.path})
            except Exception as exc:  # an emulator bug should be visible, not a hang
                resp = Response(500, f"emulator error: {type(exc).__name__}: {exc}")
        if resp.delay:
            time.sleep(resp.delay)
        if resp.reset:
            h.close_connection = True
            h.connection.close()
            return
        payload = resp.payload()
        h.send_response(resp.status)
        for k, v in resp.headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(payload)
