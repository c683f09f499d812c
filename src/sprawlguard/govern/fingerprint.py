"""Keyed fingerprints: HMAC-SHA-256 of the normalised secret with a per-installation key."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

from sprawlguard.errors import StoreError

KEY_ENV = "SPRAWLGUARD_FINGERPRINT_KEY"
_WS = re.compile(r"\s+|\\[nr]")


def normalise(value: str) -> str:
    """The form that is fingerprinted: surrounding quotes and whitespace gone; PEM bodies joined.

    Multi-line values (private keys) lose all whitespace and escaped newlines, so the same key
    found raw, JSON-escaped or base64-decoded has one fingerprint.
    """
    v = value.strip().strip("\"'")
    if "\n" in v or "\\n" in v or v.startswith("-----BEGIN"):
        v = _WS.sub("", v)
    return v


def load_key(key_file: Path) -> bytes:
    """The installation key: $SPRAWLGUARD_FINGERPRINT_KEY, else `key_file` (created 0600 on first use)."""
    env = os.environ.get(KEY_ENV)
    if env:
        return env.encode("utf-8")
    try:
        return key_file.read_bytes().strip()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise StoreError(f"{key_file}: cannot read the fingerprint key: {exc.strerror}") from None
    try:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    except FileExistsError:
        pass  # another process created it first; read theirs
    except OSError as exc:
        raise StoreError(f"{key_file}: cannot create the fingerprint key: {exc.strerror}") from None
    return key_file.read_bytes().strip()


def fingerprint(value: str, key: bytes) -> str:
    """Hex HMAC-SHA-256 of the normalised value."""
    return hmac.new(key, normalise(value).encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
