"""Shannon entropy and character-class helpers for judging whether a value looks random."""

from __future__ import annotations

import math
from collections import Counter


def shannon(value: str) -> float:
    """Bits of entropy per character of `value` (0.0 for the empty string)."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def char_classes(value: str) -> int:
    """How many of lower, upper, digit and other character classes `value` uses."""
    return (
        any(c.islower() for c in value)
        + any(c.isupper() for c in value)
        + any(c.isdigit() for c in value)
        + any(not c.isalnum() for c in value)
    )


def is_sequential(value: str) -> bool:
    """True for runs like ``abcdef``, ``123456`` or ``987654`` (each step +1 or each step -1)."""
    if len(value) < 4:
        return False
    steps = {ord(b) - ord(a) for a, b in zip(value, value[1:], strict=False)}
    return steps in ({1}, {-1})


def is_repeated(value: str) -> bool:
    """True when a short unit repeats to fill the value (``aaaaaa``, ``abababab``, ``123123123``)."""
    n = len(value)
    for unit in range(1, min(4, n // 2) + 1):
        if n % unit == 0 and value[:unit] * (n // unit) == value:
            return True
    return len(set(value)) <= 2 and n >= 6
