"""Verification test fixtures: the issuer emulator behind the host map, and a no-internet guard."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator, Mapping

import pytest

from sprawlguard.detect.rules import Rule, load_rules
from sprawlguard.model import Confidence, Secret
from sprawlguard.verify import Verifier, VerifyOptions
from sprawlguard.verify.net import HOST_MAP_ENV, Http
from tests.emulators.issuers import IssuerEmulator
from tests.verify.keys import RsaKey

#: Official hosts the emulator answers for (the verifier reaches them through the host map).
EMULATED = ("api.github.com", "slack.com", "sts.amazonaws.com", "www.googleapis.com", "api.datadoghq.com",
            "api.us3.datadoghq.com", "api.us5.datadoghq.com", "api.datadoghq.eu", "api.ap1.datadoghq.com",
            "api.ddog-gov.com", "us6.api.mailchimp.com", "vault.corp.example", "hooks.slack.com")


@pytest.fixture(autouse=True)
def no_internet(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Refuse (and record) every connection that is not to loopback: tests never leave the machine."""
    attempts: list[tuple[str, int]] = []
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> None:
        if isinstance(address, tuple):
            host = str(address[0])
            if not ipaddress.ip_address(host.split("%")[0]).is_loopback:
                attempts.append((host, int(address[1])))
                raise OSError(f"test guard: no connection to {host}")
        return real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)
    return attempts


@pytest.fixture
def issuers(monkeypatch: pytest.MonkeyPatch) -> Iterator[IssuerEmulator]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("SPRAWLGUARD_NO_VERIFY", raising=False)
    with IssuerEmulator() as emu:
        monkeypatch.setenv(HOST_MAP_ENV, ",".join(f"{h}={emu.url}" for h in EMULATED))
        yield emu


@pytest.fixture(scope="session")
def rules() -> Mapping[str, Rule]:
    return {r.id: r for r in load_rules()}


@pytest.fixture(scope="session")
def rsa_key() -> RsaKey:
    return RsaKey.generate("sprawlguard-tests")


def make_secret(rule_id: str, value: str, **parts: str) -> Secret:
    return Secret(fingerprint=f"fp-{rule_id}-{len(value)}-{hash(value) & 0xffff}", rule_id=rule_id,
                  rule_name=rule_id, issuer=rule_id.split(".")[1], nhi_kind="static_api_key",
                  preview="********", confidence=Confidence.HIGH, exposures=(), value=value, parts=parts)


def verifier(rules: Mapping[str, Rule], **opts: object) -> Verifier:
    timeout = float(opts.pop("timeout", 5.0))  # type: ignore[arg-type]
    resolver = opts.pop("resolver", None)
    http = Http.from_env(timeout=timeout, resolver=resolver)  # type: ignore[arg-type]
    return Verifier(rules, VerifyOptions(http=http, timeout=timeout, **opts))  # type: ignore[arg-type]
