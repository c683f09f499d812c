"""The detection engine: one multi-pattern pass (hyperscan) over a chunk, then per-rule confirmation.

Pipeline per chunk: hyperscan says which rules (and decoder triggers) fire anywhere in the text;
each firing rule's `regex` pattern runs over the text; each candidate passes the entropy floor,
checksum, pair requirement, allow comments and false-positive filters; decoders reveal encoded
text, which is scanned again to a bounded depth.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import regex

from sprawlguard.detect import allow
from sprawlguard.detect.checksums import CHECKSUMS
from sprawlguard.detect.decoders import DECODERS, Decoder
from sprawlguard.detect.entropy import shannon
from sprawlguard.detect.hsdb import MultiMatcher
from sprawlguard.detect.rules import Rule
from sprawlguard.model import Chunk, Confidence, Location, Match

log = logging.getLogger(__name__)

REGEX_TIMEOUT_S = 2.0
MAX_LINE_CONTEXT = 400


@dataclass(slots=True)
class EngineOptions:
    """Settings for the engine (plain values; built by the CLI or config)."""

    min_confidence: Confidence = Confidence.LOW
    decode_depth: int = 2
    allow_values: Sequence[str] = ()  # regexes; a matching secret is dropped
    allow_path_regexes: Sequence[str] = ()  # regexes; chunks from a matching path are not scanned
    honour_inline_allow: bool = True
    cache_dir: Path | None = None


@dataclass(slots=True)
class _Compiled:
    rule: Rule
    pattern: Any
    pair: Any | None
    path: Any | None
    allow: tuple[Any, ...]
    allow_paths: tuple[Any, ...]
    filters: tuple[str, ...]
    secret_group: str | int


def _secret_group(pattern: Any, declared: str | int | None) -> str | int:
    if declared is not None:
        return declared
    if "secret" in pattern.groupindex:
        return "secret"
    return 1 if pattern.groups else 0


@dataclass(slots=True)
class Engine:
    """Scans chunks with a set of rules; build once, reuse for every chunk."""

    rules: Sequence[Rule]
    options: EngineOptions = field(default_factory=EngineOptions)
    problems: list[str] = field(default_factory=list)
    _matcher: MultiMatcher = field(init=False)
    _compiled: dict[int, _Compiled] = field(init=False, default_factory=dict)
    _allow_values: tuple[Any, ...] = field(init=False, default=())
    _allow_paths: tuple[Any, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        triggers = [d.trigger for d in DECODERS]
        self._matcher = MultiMatcher.build(self.rules, triggers, cache_dir=self.options.cache_dir)
        self._allow_values = tuple(regex.compile(v) for v in self.options.allow_values)
        self._allow_paths = tuple(regex.compile(v) for v in self.options.allow_path_regexes)

    # -- public ---------------------------------------------------------------------------
    def scan(self, chunk: Chunk) -> list[Match]:
        """All matches in a chunk, deduplicated, in text order."""
        path = chunk.location.path
        if path and any(p.search(path) for p in self._allow_paths):
            return []
        found = self._scan_text(chunk.text, chunk.location, chunk.first_line, (), 0, None)
        seen: set[tuple[str, str, int]] = set()
        out: list[Match] = []
        for m in sorted(found, key=lambda m: (m.span[0], len(m.decoders))):
            key = (m.rule_id, m.secret, m.line)
            if key not in seen:
                seen.add(key)
                out.append(m)
        return out

    # -- internals ------------------------------------------------------------------------
    def _rule(self, idx: int) -> _Compiled:
        c = self._compiled.get(idx)
        if c is None:
            r = self.rules[idx]
            pat = regex.compile(r.pattern)
            c = _Compiled(
                rule=r,
                pattern=pat,
                pair=regex.compile(r.pair.pattern) if r.pair else None,
                path=regex.compile(r.path) if r.path else None,
                allow=tuple(regex.compile(v) for v in r.allow_values),
                allow_paths=tuple(regex.compile(v) for v in r.allow_paths),
                filters=tuple(dict.fromkeys(allow.UNIVERSAL + r.filters)),
                secret_group=_secret_group(pat, r.secret_group),
            )
            self._compiled[idx] = c
        return c

    def _scan_text(
        self,
        text: str,
        loc: Location,
        first_line: int,
        decoders: tuple[str, ...],
        depth: int,
        anchor: tuple[int, int, int] | None,
    ) -> list[Match]:
        rule_ids, trigger_ids = self._matcher.fired(text)
        out: list[Match] = []
        for idx in rule_ids:
            out.extend(self._confirm(self._rule(idx), text, loc, first_line, decoders, anchor))
        if depth < self.options.decode_depth:
            for t in trigger_ids:
                out.extend(self._decode(DECODERS[t], text, loc, first_line, decoders, depth, anchor))
        return out

    def _decode(
        self,
        dec: Decoder,
        text: str,
        loc: Location,
        first_line: int,
        decoders: tuple[str, ...],
        depth: int,
        anchor: tuple[int, int, int] | None,
    ) -> list[Match]:
        out: list[Match] = []
        for m in dec.finder.finditer(text):
            has_body = "body" in dec.finder.groupindex
            start, end = m.span("body") if has_body else m.span()
            decoded = dec.decode(text[start:end])
            if not decoded:
                continue
            here = anchor or _position(text, start, first_line) + (start,)
            out.extend(
                self._scan_text(decoded, loc, first_line, decoders + (dec.name,), depth + 1, here)
            )
        return out

    def _confirm(
        self,
        c: _Compiled,
        text: str,
        loc: Location,
        first_line: int,
        decoders: tuple[str, ...],
        anchor: tuple[int, int, int] | None,
    ) -> list[Match]:
        rule = c.rule
        if Confidence(rule.confidence).rank < self.options.min_confidence.rank:
            return []
        if c.path is not None and not (loc.path and c.path.search(loc.path)):
            return []
        if loc.path and any(p.search(loc.path) for p in c.allow_paths):
            return []
        out: list[Match] = []
        try:
            for m in c.pattern.finditer(text, timeout=REGEX_TIMEOUT_S):
                match = self._candidate(c, m, text, loc, first_line, decoders, anchor)
                if match is not None:
                    out.append(match)
        except TimeoutError:
            self.problems.append(f"{loc.uri}: rule {rule.id} took longer than {REGEX_TIMEOUT_S}s; skipped")
        return out

    def _candidate(
        self,
        c: _Compiled,
        m: Any,
        text: str,
        loc: Location,
        first_line: int,
        decoders: tuple[str, ...],
        anchor: tuple[int, int, int] | None,
    ) -> Match | None:
        rule = c.rule
        secret = m.group(c.secret_group)
        if not secret:
            return None
        start, end = m.span(c.secret_group)
        if rule.min_length and len(secret) < rule.min_length:
            return None
        if rule.max_length and len(secret) > rule.max_length:
            return None
        if rule.min_entropy is not None and shannon(secret) < rule.min_entropy:
            return None
        if rule.checksum and not CHECKSUMS[rule.checksum].check(secret):
            return None
        if any(a.search(secret) for a in c.allow + self._allow_values):
            return None
        line_start = text.rfind("\n", 0, start) + 1
        line_end = text.find("\n", end)
        line_text = text[line_start : line_end if line_end >= 0 else len(text)]
        if len(line_text) > MAX_LINE_CONTEXT:
            lo = max(0, start - line_start - MAX_LINE_CONTEXT // 2)
            line_text = line_text[lo : lo + MAX_LINE_CONTEXT]
        prev_start = text.rfind("\n", 0, max(0, line_start - 1)) + 1
        prev_line = text[prev_start : max(prev_start, line_start - 1)] if line_start else ""
        if self.options.honour_inline_allow and allow.is_inline_allowed(line_text, prev_line[-MAX_LINE_CONTEXT:]):
            return None
        key = m.groupdict().get("key")
        if allow.dropped_by(secret, allow.Context(line=line_text, path=loc.path, key=key), c.filters):
            return None
        parts = {k: v for k, v in m.groupdict().items() if v is not None and k != "secret"}
        if c.pair is not None and rule.pair is not None:
            pair_value = _find_pair(c.pair, rule.pair.name, text, start, rule.pair.within_lines)
            if pair_value is None and rule.pair.required:
                return None
            if pair_value is not None:
                parts[rule.pair.name] = pair_value
        if anchor is not None:
            line, column, offset = anchor
            span = (offset, offset)
        else:
            line, column = _position(text, start, first_line)
            span = (start, end)
        return Match(
            rule_id=rule.id,
            secret=secret,
            location=loc,
            line=line,
            column=column,
            span=span,
            confidence=Confidence(rule.confidence),
            parts=parts,
            decoders=decoders,
            line_text=line_text,
        )


def _position(text: str, offset: int, first_line: int) -> tuple[int, int]:
    """1-based line and column of `offset` in `text`."""
    line = first_line + text.count("\n", 0, offset)
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _find_pair(pattern: Any, name: str, text: str, pos: int, within: int) -> str | None:
    lo = pos
    for _ in range(within + 1):
        lo = text.rfind("\n", 0, lo - 1) if lo > 0 else -1
        if lo < 0:
            lo = 0
            break
    hi = pos
    for _ in range(within + 1):
        nxt = text.find("\n", hi + 1)
        if nxt < 0:
            hi = len(text)
            break
        hi = nxt
    window = text[lo:hi]
    m = pattern.search(window, timeout=REGEX_TIMEOUT_S)
    if m is None:
        return None
    group = name if name in m.groupdict() else (1 if m.re.groups else 0)
    return str(m.group(group))


