"""The only place sprawlguard opens connections to issuers: HTTPS with urllib3, no redirects.

Why urllib3 (not requests): a connection pool can be opened on an IP address we already checked
while TLS still verifies the certificate for the host name (`server_hostname`/`assert_hostname`),
so a host taken from scanned text is resolved once, refused if private, and then *pinned* - no
second DNS lookup can rebind it. It also lets us turn redirects and urllib3's own retries off.

Testing aid: ``SPRAWLGUARD_VERIFY_HOST_MAP='api.github.com=http://127.0.0.1:8080,slack.com=...'``
sends requests for those official hosts to another base URL (a loopback emulator), with the
official ``Host`` header. It is the only difference from production: the request, the checks
and the classification are the same. A mapped host is not resolved (the map says where it is).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import urllib3
from urllib3.util import Timeout, parse_url

HOST_MAP_ENV = "SPRAWLGUARD_VERIFY_HOST_MAP"
USER_AGENT = "sprawlguard-verify"
MAX_BODY = 256 * 1024
#: Cloud metadata endpoints, refused even if a resolver claims they are global.
METADATA = frozenset({"169.254.169.254", "fd00:ec2::254", "100.100.100.200"})

Resolver = Callable[..., list[tuple[Any, ...]]]


class Refused(Exception):
    """The request was not sent (a private address, a non-https URL...)."""


class Transient(Exception):
    """The request failed in a way worth retrying: `kind` is ``timeout`` or ``network_error``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class HttpResponse:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    host: str  # the official host the request was for

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        import json

        try:
            return json.loads(self.body or b"null")
        except (ValueError, RecursionError):  # not JSON, or nested too deep to parse
            return None

    @property
    def is_json(self) -> bool:
        return "json" in self.headers.get("content-type", "") or (
            self.body.lstrip()[:1] in (b"{", b"[") and self.json() is not None)

    @property
    def is_html(self) -> bool:
        start = self.body.lstrip()[:64].lower()
        return "text/html" in self.headers.get("content-type", "") or start.startswith((b"<!doctype", b"<html"))


def parse_host_map(text: str | None) -> dict[str, str]:
    """'a.com=http://127.0.0.1:1,b.com=http://127.0.0.1:2' -> {host: base url}."""
    out: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        host, sep, url = item.strip().partition("=")
        if not sep or not url.startswith(("http://", "https://")):
            raise ValueError(f"{HOST_MAP_ENV}: expected HOST=http(s)://ADDR:PORT, got {item.strip()!r}")
        out[host.lower()] = url.rstrip("/")
    return out


def address_problem(ip: str) -> str | None:
    """Why an address must not be contacted (loopback, private, link-local, metadata...), or None."""
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if str(addr) in METADATA:
        return "a cloud metadata address"
    for attr, what in (("is_loopback", "a loopback"), ("is_link_local", "a link-local"),
                       ("is_private", "a private"), ("is_multicast", "a multicast"),
                       ("is_unspecified", "an unspecified"), ("is_reserved", "a reserved")):
        if getattr(addr, attr):
            return f"{what} address"
    return None if addr.is_global else "a non-global address"


@dataclass
class Http:
    """Sends one HTTPS request at a time per call; thread-safe (a pool per call)."""

    timeout: float = 10.0
    host_map: Mapping[str, str] = field(default_factory=dict)
    resolver: Resolver = socket.getaddrinfo
    dialled: list[tuple[str, str]] = field(default_factory=list)  # (official host, address dialled)

    @classmethod
    def from_env(cls, timeout: float = 10.0, resolver: Resolver | None = None) -> Http:
        return cls(timeout=timeout, host_map=parse_host_map(os.environ.get(HOST_MAP_ENV)),
                   resolver=resolver or socket.getaddrinfo)

    def resolve_checked(self, host: str, port: int) -> str:
        """Resolve once; refuse if any address is not public; return the address to pin."""
        try:
            infos = self.resolver(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise Transient("network_error", f"cannot resolve {host}: {exc}") from None
        addrs = [str(i[4][0]) for i in infos]
        if not addrs:
            raise Transient("network_error", f"cannot resolve {host}")
        for a in addrs:
            problem = address_problem(a)
            if problem:
                raise Refused(f"{host} resolves to {problem} ({a}); not contacted")
        return addrs[0]

    def request(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None = None,
                *, pin: bool) -> HttpResponse:
        """Send one request to an https URL. `pin`: resolve, refuse private addresses, dial the IP."""
        u = parse_url(url)
        if u.scheme != "https" or not u.host:
            raise Refused(f"not an https URL (scheme {u.scheme!r}); not contacted")
        host = u.host.lower().strip("[]")
        port = u.port or 443
        path = (u.path or "/") + (f"?{u.query}" if u.query else "")
        hdrs = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **headers,
                "Host": host if port == 443 else f"{host}:{port}"}
        mapped = self.host_map.get(host)
        if mapped is not None:
            m = parse_url(mapped)
            pool: urllib3.HTTPConnectionPool = (urllib3.HTTPSConnectionPool if m.scheme == "https"
                                                else urllib3.HTTPConnectionPool)(m.host, m.port, maxsize=1)
            dial = f"{m.host}:{m.port}"
        elif pin:
            ip = host if _is_ip(host) else None
            if ip is not None:
                problem = address_problem(ip)
                if problem:
                    raise Refused(f"{host} is {problem}; not contacted")
            else:
                ip = self.resolve_checked(host, port)
            pool = urllib3.HTTPSConnectionPool(ip, port, server_hostname=host, assert_hostname=host,
                                               cert_reqs="CERT_REQUIRED", maxsize=1)
            dial = f"{ip}:{port}"
        else:
            pool = urllib3.HTTPSConnectionPool(host, port, cert_reqs="CERT_REQUIRED", maxsize=1)
            dial = f"{host}:{port}"
        self.dialled.append((host, dial))
        try:
            resp = pool.urlopen(method, path, body=body, headers=hdrs, redirect=False, retries=False,
                                timeout=Timeout(connect=min(3.0, self.timeout), read=self.timeout),
                                preload_content=False, assert_same_host=False)
            try:
                data = resp.read(MAX_BODY, decode_content=False) or b""
            finally:
                resp.release_conn()
        except urllib3.exceptions.NewConnectionError as exc:  # (a ConnectTimeoutError subclass)
            raise Transient("network_error", f"{host}: cannot connect ({type(exc).__name__})") from None
        except urllib3.exceptions.TimeoutError:
            raise Transient("timeout", f"no answer from {host} within {self.timeout:g}s") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise Transient("network_error", f"{host}: {type(exc).__name__}") from None
        finally:
            pool.close()
        return HttpResponse(resp.status, {k.lower(): v for k, v in resp.headers.items()}, data, host)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
