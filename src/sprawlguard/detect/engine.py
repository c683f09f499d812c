"""The detection engine: one multi-pattern pass (hyperscan) over a chunk, then per-rule confirmation.

Pipeline per chunk: hyperscan says where rules may match (end offsets) and which decoder triggers
fire; each candidate rule's `regex` pattern runs only in a window of whole lines around its
candidate offsets; each candidate passes the entropy floor,
checksum, pair requirement, allow comments and false-positive filters; decoders reveal encoded
text, which is scanned again to a bounded depth.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from itertools import chain
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
WINDOW_BACK = 4096  # chars before a candidate end offset a match may start at, when unknown
WINDOW_BACK_MAX = 20_000  # the most any rule's window reaches back (PEM blocks)
LINE_EXTENSION = 1024  # how far a window grows to reach whole lines
_CONTINUATION = bytes(range(0x80, 0xC0))


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
    allow: tuple[Any, ...] | None  # the rule's allow_values, compiled when a candidate first needs them
    filters: tuple[str, ...]
    secret_group: str | int
    back: int = WINDOW_BACK
    single_line: bool = False  # no match spans a newline: a window starts at its hit's line
    generic: bool = False  # issuer "generic": yields to an issuer rule's match on the same value
    rank: int = 0  # the rule's confidence rank


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
    _paths: dict[int, tuple[Any | None, tuple[Any, ...]]] = field(init=False, default_factory=dict)
    _allow_values: tuple[Any, ...] = field(init=False, default=())
    _allow_paths: tuple[Any, ...] = field(init=False, default=())
    _exact: frozenset[int] = field(init=False, default=frozenset())
    _lines: _Lines | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        floor = self.options.min_confidence.rank
        self.rules = [r for r in self.rules if Confidence(r.confidence).rank >= floor]
        triggers = [d.trigger for d in DECODERS]
        self._matcher = MultiMatcher.build(self.rules, triggers, cache_dir=self.options.cache_dir)
        self._allow_values = tuple(regex.compile(v) for v in self.options.allow_values)
        self._allow_paths = tuple(regex.compile(v) for v in self.options.allow_path_regexes)
        self._exact = frozenset(self._matcher.plan.exact)

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
        if chunk.first_column > 1:  # the text continues a line cut by the reader: columns in that line
            shift = chunk.first_column - 1
            out = [replace(m, column=m.column + shift) if m.line == chunk.first_line else m for m in out]
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
                allow=None if r.allow_values else (),
                filters=tuple(dict.fromkeys(r.filters + allow.UNIVERSAL)),  # cheap regex checks first
                secret_group=_secret_group(pat, r.secret_group),
                back=_max_width(tree := _parse(r.pattern)),
                single_line=tree is not None and not _can_match_newline(tree),
                generic=r.issuer == "generic",
                rank=Confidence(r.confidence).rank,
            )
            self._compiled[idx] = c
        return c

    def _applies(self, idx: int, path: str | None) -> bool:
        """Whether rule `idx` runs on a file at `path` (its `path` and `allow_paths` regexes),
        checked before the rule's own pattern is compiled: a hook that stages a .py file does not
        compile the config-file rules whose candidates fired on it."""
        r = self.rules[idx]
        if r.path is None and not r.allow_paths:
            return True
        if idx not in self._paths:
            self._paths[idx] = (regex.compile(r.path) if r.path else None,
                                tuple(regex.compile(v) for v in r.allow_paths))
        only, never = self._paths[idx]
        if only is not None and not (path and only.search(path)):
            return False
        return not (path and any(p.search(path) for p in never))

    def _scan_text(
        self,
        text: str,
        loc: Location,
        first_line: int,
        decoders: tuple[str, ...],
        depth: int,
        anchor: tuple[_Lines, int] | None,
    ) -> list[Match]:
        data = text.encode("utf-8", "surrogatepass")
        hits = self._matcher.hits(data)
        n_rules = len(self.rules)
        ctx = (loc, first_line, decoders, anchor)
        decode = depth < self.options.decode_depth
        out: list[Match] = []
        jobs: list[tuple[_Compiled, Iterable[tuple[int, int]]]] = []
        if hits.overflow:  # a candidate flood: confirm what fired on the whole text
            for idx in sorted(set(hits.offsets) | set(self._matcher.plan.always)):
                if idx < n_rules:
                    if self._applies(idx, loc.path):
                        jobs.append((self._rule(idx), [(0, len(text))]))
                elif decode:
                    out.extend(self._decode(DECODERS[idx - n_rules], text, [(0, len(text))], ctx, depth))
        else:
            firsts = hits.firsts
            to_char = _char_offsets(text, data, chain(*hits.offsets.values(), *firsts.values()))
            exact = self._exact
            for idx, ends in hits.offsets.items():
                chars = [to_char[e] for e in ends]
                if idx >= n_rules:
                    if decode:
                        spans = _windows(text, chars, 64, 0)  # the encoded run starts at its trigger
                        out.extend(self._decode(DECODERS[idx - n_rules], text, spans, ctx, depth))
                    continue
                if not self._applies(idx, loc.path):
                    continue
                c = self._rule(idx)
                forward = 0 if idx in exact else c.back
                starts = [to_char[e] for e in firsts[idx]] if c.single_line and not forward and idx in firsts else None
                jobs.append((c, _windows(text, chars, c.back, forward, starts)))
            jobs.extend((self._rule(idx), [(0, len(text))]) for idx in self._matcher.plan.always
                        if self._applies(idx, loc.path))
        # Issuer rules first: a generic rule skips a value one of them already reported there
        # (one finding per secret and place, as gitleaks does, and no filter work on it).
        jobs.sort(key=lambda job: job[0].generic)
        claimed: list[tuple[tuple[int, int], int]] = []
        for c, windows in jobs:
            for lo, hi in windows:
                found = self._confirm(c, text, lo, hi, *ctx, claimed if c.generic else None)
                if not c.generic:
                    claimed.extend((m.span, m.confidence.rank) for m in found)
                out.extend(found)
        return out

    def _decode(
        self,
        dec: Decoder,
        text: str,
        spans: list[tuple[int, int]],
        ctx: tuple[Location, int, tuple[str, ...], tuple[_Lines, int] | None],
        depth: int,
    ) -> list[Match]:
        loc, first_line, decoders, anchor = ctx
        has_body = "body" in dec.finder.groupindex
        out: list[Match] = []
        for lo, hi in spans:
            for m in dec.finder.finditer(text, lo, hi):
                start, end = m.span("body") if has_body else m.span()
                decoded = dec.decode(text[start:end])
                if not decoded:
                    continue
                # report at the encoded blob's place in the outermost text
                here = anchor or (_Lines(text, first_line), start)
                out.extend(
                    self._scan_text(decoded, loc, first_line, decoders + (dec.name,), depth + 1, here)
                )
        return out

    def _confirm(
        self,
        c: _Compiled,
        text: str,
        lo: int,
        hi: int,
        loc: Location,
        first_line: int,
        decoders: tuple[str, ...],
        anchor: tuple[_Lines, int] | None,
        claimed: list[tuple[tuple[int, int], int]] | None = None,
    ) -> list[Match]:
        rule = c.rule
        out: list[Match] = []
        try:
            for m in c.pattern.finditer(text, lo, hi, timeout=REGEX_TIMEOUT_S):
                match = self._candidate(c, m, text, loc, first_line, decoders, anchor, claimed)
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
        anchor: tuple[_Lines, int] | None,
        claimed: list[tuple[tuple[int, int], int]] | None = None,
    ) -> Match | None:
        rule = c.rule
        secret = m.group(c.secret_group)
        if not secret:
            return None
        start, end = m.span(c.secret_group)
        if claimed:
            s, e = (anchor[1], anchor[1]) if anchor is not None else (start, end)
            if any(cs <= e and s <= ce and rank >= c.rank for (cs, ce), rank in claimed):
                return None
        if rule.min_length and len(secret) < rule.min_length:
            return None
        if rule.max_length and len(secret) > rule.max_length:
            return None
        if rule.min_entropy is not None and shannon(secret) < rule.min_entropy:
            return None
        if rule.checksum and not CHECKSUMS[rule.checksum].check(secret):
            return None
        if c.allow is None:
            c.allow = tuple(regex.compile(v) for v in rule.allow_values)
        if any(a.search(secret) for a in c.allow + self._allow_values):
            return None
        line_start = text.rfind("\n", 0, start) + 1
        line_end = text.find("\n", end)
        line_text = text[line_start : line_end if line_end >= 0 else len(text)]
        if len(line_text) > MAX_LINE_CONTEXT:
            lo = max(0, start - line_start - MAX_LINE_CONTEXT // 2)
            line_text = line_text[lo : lo + MAX_LINE_CONTEXT]
        key = m.groupdict().get("key")
        after = text[end : min(end + 64, line_end if line_end >= 0 else len(text))]
        if allow.dropped_by(secret, allow.Context(line=line_text, path=loc.path, key=key, after=after), c.filters):
            return None
        if self.options.honour_inline_allow:
            prev_start = text.rfind("\n", 0, max(0, line_start - 1)) + 1
            prev_line = text[prev_start : max(prev_start, line_start - 1)] if line_start else ""
            if allow.is_inline_allowed(line_text, prev_line[-MAX_LINE_CONTEXT:]):
                return None
        parts = {k: v for k, v in m.groupdict().items() if v is not None and k != "secret"}
        if c.pair is not None and rule.pair is not None:
            pair_value = _find_pair(c.pair, rule.pair.name, text, start, rule.pair.within_lines)
            if pair_value is None and rule.pair.required:
                return None
            if pair_value is not None:
                parts[rule.pair.name] = pair_value
        if anchor is not None:
            outer, offset = anchor
            line, column = outer.position(offset)
            span = (offset, offset)
        else:
            if self._lines is None or self._lines.text is not text:
                self._lines = _Lines(text, first_line)
            line, column = self._lines.position(start)
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


def _parse(pattern: str) -> Any | None:
    """The pattern's tree from Python's own regex parser; None for syntax only the `regex`
    module knows."""
    try:
        import re._parser as sre_parse  # Python >= 3.11
    except ImportError:  # pragma: no cover - Python 3.10
        import sre_parse  # type: ignore[no-redef]
    try:
        return sre_parse.parse(pattern)
    except Exception:
        return None


def _max_width(tree: Any | None) -> int:
    """The longest text a parsed pattern can match, capped; a safe default when the pattern
    could not be parsed (see `_parse`) or is unbounded."""
    if tree is None:
        return WINDOW_BACK
    return min(int(tree.getwidth()[1]), WINDOW_BACK_MAX) + 1


def _can_match_newline(tree: Any) -> bool:
    """Whether any part of a parsed pattern can consume a newline (True when unsure).
    Lookarounds consume nothing."""
    try:
        import re._constants as c  # Python >= 3.11
    except ImportError:  # pragma: no cover - Python 3.10
        import sre_constants as c  # type: ignore[no-redef]
    nl = ord("\n")
    in_class = {c.CATEGORY_SPACE: True, c.CATEGORY_NOT_SPACE: False, c.CATEGORY_DIGIT: False,
                c.CATEGORY_NOT_DIGIT: True, c.CATEGORY_WORD: False, c.CATEGORY_NOT_WORD: True}

    def item(op: Any, av: Any, dotall: bool) -> bool:
        if op is c.LITERAL:
            return bool(av == nl)
        if op is c.NOT_LITERAL:
            return bool(av != nl)
        if op is c.ANY:
            return dotall
        if op is c.IN:
            negate = any(o is c.NEGATE for o, _ in av)
            hit = any((o is c.LITERAL and a == nl) or (o is c.RANGE and a[0] <= nl <= a[1])
                      or (o is c.CATEGORY and in_class.get(a, True)) for o, a in av)
            return hit != negate
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
            return seq(av[2], dotall)
        if op is c.SUBPATTERN:
            return seq(av[3], dotall or bool(av[1] & c.SRE_FLAG_DOTALL))
        if op is c.BRANCH:
            return any(seq(b, dotall) for b in av[1])
        if op in (c.ASSERT, c.ASSERT_NOT, c.AT):
            return False
        if op is c.GROUPREF:  # repeats a group of this pattern: if that can hold one, we say so there
            return False
        if op is getattr(c, "ATOMIC_GROUP", None):
            return seq(av, dotall)
        return True  # conditionals and the like: assume it can

    def seq(sub: Any, dotall: bool) -> bool:
        return any(item(op, av, dotall) for op, av in sub)

    return seq(tree, bool(tree.state.flags & c.SRE_FLAG_DOTALL))


class _Lines:
    """Line/column of offsets in one text, with cached newline counts per 64 KB block."""

    BLOCK = 65536

    def __init__(self, text: str, first_line: int) -> None:
        self.text = text
        self.first_line = first_line
        self._blocks = [0]  # newlines before block k

    def position(self, offset: int) -> tuple[int, int]:
        k = offset // self.BLOCK
        blocks, text = self._blocks, self.text
        while len(blocks) <= k:
            j = len(blocks)
            blocks.append(blocks[-1] + text.count("\n", (j - 1) * self.BLOCK, j * self.BLOCK))
        line = self.first_line + blocks[k] + text.count("\n", k * self.BLOCK, offset)
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        return line, column


def _char_offsets(text: str, data: bytes, offsets: Iterable[int]) -> dict[int, int]:
    """Map hyperscan's UTF-8 byte offsets to str offsets (identity for ASCII text)."""
    ends = sorted(set(offsets))
    if len(data) == len(text):
        return {e: e for e in ends}
    out: dict[int, int] = {}
    prev_b = prev_c = 0
    for e in ends:  # characters = bytes that are not UTF-8 continuation bytes
        prev_c += len(data[prev_b:e].translate(None, _CONTINUATION))
        prev_b = e
        out[e] = prev_c
    return out


def _windows(text: str, ends: list[int], back: int, forward: int,
             firsts: list[int] | None = None) -> list[tuple[int, int]]:
    """Merged [lo, hi) windows of whole lines (bounded) around candidate end offsets.

    With `firsts` (where each candidate's streak of hits began; see hsdb._Collector), every
    real match ends in [first, end] and no match spans lines, so a window starts at the line
    of `first`: a generic `key = "value"` rule then costs ~20x less than on whole windows.
    """
    n = len(text)
    spans: list[tuple[int, int]] = []
    pairs = sorted(set(zip(ends, firsts if firsts is not None else ends, strict=True)))
    for e, first in pairs:
        if spans and e + forward <= spans[-1][1]:
            continue  # already inside the last window
        lo, hi = max(0, e - back), min(n, e + forward)
        if firsts is not None:
            lo = max(0, first - back)
            nl = text.rfind("\n", lo, max(lo, first - 1))
            lo = nl + 1 if nl >= 0 else lo
        else:
            nl = text.rfind("\n", max(0, lo - LINE_EXTENSION), lo)
            lo = nl + 1 if nl >= 0 else max(0, lo - LINE_EXTENSION)
        nl = text.find("\n", hi, hi + LINE_EXTENSION)
        hi = nl if nl >= 0 else min(n, hi + LINE_EXTENSION)
        if spans and lo <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], hi))
        else:
            spans.append((lo, hi))
    return spans


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


