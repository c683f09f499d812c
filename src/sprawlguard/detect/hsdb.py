"""The multi-pattern pass: every rule in one hyperscan database (plus one for decoder triggers).

Each rule's pattern is compiled in hyperscan's prefilter mode, which reports a superset of the real
matches with their end offsets; the engine confirms each with the `regex` module in a small window
around that offset, so the slow regex engine only ever sees a few hundred bytes per candidate. A
pattern hyperscan cannot take falls back to its keywords as caseless literals (the window then
extends forward too); a rule with neither runs on every chunk. Databases are cached on disk.

A flood of candidates (adversarial input, e.g. megabytes of one character class) stops the
positional scan early; the engine then falls back to "which rules fired anywhere" and confirms
those on the whole chunk, which is slower but loses nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hyperscan as hs

from sprawlguard.config import prune_cache, touch
from sprawlguard.detect.rules import Rule

log = logging.getLogger(__name__)

_PREFILTER = hs.HS_FLAG_PREFILTER | hs.HS_FLAG_ALLOWEMPTY
_LITERAL = hs.HS_FLAG_CASELESS
_SINGLE = hs.HS_FLAG_SINGLEMATCH
MAX_HITS = 50_000  # candidate offsets per chunk before falling back to whole-chunk confirmation
CACHE_VERSION = "5"
RELAX_REPEATS_ABOVE = 64  # bounded repeats with a larger upper bound are opened up (prefilter_expr)


def _keywords_expr(rule: Rule) -> bytes | None:
    if not rule.keywords:
        return None
    return "|".join(re.escape(k) for k in rule.keywords).encode("utf-8")


def _compiles(expr: bytes, flags: int) -> bool:
    db = hs.Database(mode=hs.HS_MODE_BLOCK)
    try:
        db.compile(expressions=[expr], ids=[0], elements=1, flags=[flags])
    except hs.error:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Plan:
    """What goes into the databases: per rule, the expression and whether it is the exact pattern."""

    exprs: tuple[bytes, ...]
    ids: tuple[int, ...]
    flags: tuple[int, ...]
    exact: tuple[int, ...]  # rule indices prefiltered by their own pattern (hit = end of a match)
    always: tuple[int, ...]  # rule indices with no prefilter: confirmed on every chunk


_BOUNDED = re.compile(r"(?<!\\)\{(\d+),(\d+)\}")


def prefilter_expr(pattern: str) -> bytes:
    """What hyperscan prefilters a rule with: the pattern with large bounded repeats opened up.

    `{20,4000}` -> `{20,}` still matches a superset (what prefiltering needs; the engine confirms
    every candidate with the exact pattern), but hyperscan compiles a large bounded repeat into a
    large automaton: the shipped rules took ~50 s to compile with them and ~2 s without, and the
    database scanned ~5x faster. (Dropping lookarounds as well was measured: no gain.)
    """

    def relax(m: re.Match[str]) -> str:
        return m.group(0) if int(m.group(2)) <= RELAX_REPEATS_ABOVE else "{" + m.group(1) + ",}"

    return _BOUNDED.sub(relax, pattern).encode("utf-8")


def plan(rules: Sequence[Rule], check: bool = True) -> Plan:
    """Per rule: its `prefilter` if it declares one, else its own pattern (relaxed, see
    prefilter_expr) in prefilter mode, else its keywords. Only the own-pattern case is `exact`
    (a hit ends where a match ends); for the others the confirmation window extends forward too.

    `check=False` skips compiling each expression on its own (the caller compiles them all at
    once, and plans again with checks only if that fails).
    """
    exprs: list[bytes] = []
    ids: list[int] = []
    flags: list[int] = []
    exact: list[int] = []
    always: list[int] = []
    for i, rule in enumerate(rules):
        if rule.prefilter is not None and (not check or _compiles(rule.prefilter.encode(), _PREFILTER)):
            exprs.append(rule.prefilter.encode("utf-8"))  # the rule's own cheaper superset
            flags.append(_PREFILTER)
            ids.append(i)
            continue
        pattern = prefilter_expr(rule.pattern)
        if not check or _compiles(pattern, _PREFILTER):
            exprs.append(pattern)
            flags.append(_PREFILTER)
            exact.append(i)
        elif (kw := _keywords_expr(rule)) is not None and (not check or _compiles(kw, _LITERAL)):
            exprs.append(kw)
            flags.append(_LITERAL)
        else:
            log.warning("rule %s: no fast prefilter; it runs on every chunk", rule.id)
            always.append(i)
            continue
        ids.append(i)
    return Plan(tuple(exprs), tuple(ids), tuple(flags), tuple(exact), tuple(always))


def _compile(exprs: Sequence[bytes], ids: Sequence[int], flags: Sequence[int]) -> Any:
    db = hs.Database(mode=hs.HS_MODE_BLOCK)
    if exprs:
        db.compile(expressions=list(exprs), ids=list(ids), elements=len(exprs), flags=list(flags))
    return db


@dataclass(slots=True)
class Hits:
    """Candidate end offsets (bytes) per rule index, or, on overflow, just the set of rules that fired."""

    offsets: dict[int, list[int]]
    overflow: bool = False
    firsts: dict[int, list[int]] = field(default_factory=dict)  # per rule: where each streak's first hit ended


@dataclass(slots=True)
class MultiMatcher:
    """Where rules may match in a text (one pass), and which decoder triggers fire."""

    n_rules: int
    plan: Plan
    db: Any
    single_db: Any  # the same expressions with SINGLEMATCH, for the overflow fallback

    @classmethod
    def build(
        cls, rules: Sequence[Rule], triggers: Sequence[bytes], cache_dir: Path | None = None
    ) -> MultiMatcher:
        """Compile (or load from the cache) the databases for `rules` plus decoder `triggers`."""
        digest = hashlib.sha256(
            json.dumps([CACHE_VERSION, hs.__version__ if hasattr(hs, "__version__") else "",
                        [[r.pattern, list(r.keywords), r.prefilter] for r in rules], [t.hex() for t in triggers]])
            .encode()
        ).hexdigest()[:32]
        cached = _load(cache_dir, digest) if cache_dir else None
        if cached is not None:
            p, dbs = cached
            return cls(len(rules), p, *dbs)
        n = len(rules)

        def compile_plan(p: Plan) -> tuple[Any, Any]:
            exprs = list(p.exprs) + list(triggers)  # decoder triggers get ids after the rules'
            ids = list(p.ids) + [n + j for j in range(len(triggers))]
            flags = list(p.flags) + [0] * len(triggers)
            return _compile(exprs, ids, flags), _compile(exprs, ids, [f | _SINGLE for f in flags])

        p = plan(rules, check=False)
        try:
            db, single = compile_plan(p)
        except hs.error:  # some expression hyperscan rejects: find it, rule by rule
            p = plan(rules)
            db, single = compile_plan(p)
        if cache_dir:
            _store(cache_dir, digest, p, (db, single))
        return cls(n, p, db, single)

    def hits(self, data: bytes) -> Hits:
        """Candidate end offsets per rule index (decoder trigger j has index n_rules + j)."""
        collector = _Collector(self.n_rules)
        buf = collector.hits
        if data:
            try:
                self.db.scan(data, match_event_handler=_collect, context=collector)
            except hs.ScanTerminated:
                fired: set[int] = set()
                self.single_db.scan(data, match_event_handler=_fired, context=fired)
                return Hits({i: [] for i in fired}, overflow=True)
        out: dict[int, list[int]] = {}
        firsts: dict[int, list[int]] = {}
        for idx, end, first in buf:
            out.setdefault(idx, []).append(end)
            firsts.setdefault(idx, []).append(first)
        return Hits(out, firsts=firsts)


class _Collector:
    """Hit offsets of one scan, one per streak: a match that grows by one byte at a time (a rule's
    relaxed `{20,}` run, a base64 run under its trigger) reports every end; only one is kept, the
    last for a rule (where the candidate ends), the first for a decoder trigger (where the encoded
    run starts). So a 1 MB base64 blob is one candidate, not a million. A rule's entry also keeps
    where its streak's first hit ended: every real match ends somewhere in between."""

    __slots__ = ("hits", "last", "n_rules")

    def __init__(self, n_rules: int) -> None:
        self.hits: list[tuple[int, int, int]] = []  # (idx, end, first end of the streak)
        self.last: dict[int, tuple[int, int]] = {}  # idx -> (latest end, index in hits)
        self.n_rules = n_rules


def _collect(idx: int, start: int, end: int, flags: int, c: _Collector) -> bool:
    prev = c.last.get(idx)
    if prev is not None and end == prev[0] + 1:
        c.last[idx] = (end, prev[1])
        if idx < c.n_rules:
            c.hits[prev[1]] = (idx, end, c.hits[prev[1]][2])
        return False
    c.last[idx] = (end, len(c.hits))
    c.hits.append((idx, end, end))
    return len(c.hits) > MAX_HITS  # True stops the scan


def _fired(idx: int, start: int, end: int, flags: int, context: set[int]) -> None:
    context.add(idx)


def _load(cache_dir: Path, digest: str) -> tuple[Plan, tuple[Any, Any]] | None:
    try:
        meta = json.loads((cache_dir / f"hsdb-{digest}.json").read_text())
        dbs = []
        for name in ("db", "single"):
            db = hs.loadb((cache_dir / f"hsdb-{digest}-{name}.bin").read_bytes(), mode=hs.HS_MODE_BLOCK)
            db.scratch = hs.Scratch(db)  # a deserialised database has no scratch space yet
            dbs.append(db)
        p = Plan(exprs=tuple(bytes.fromhex(e) for e in meta["exprs"]), ids=tuple(meta["ids"]),
                 flags=tuple(meta["flags"]), exact=tuple(meta["exact"]), always=tuple(meta["always"]))
    except (OSError, ValueError, KeyError, TypeError, hs.error):
        return None
    touch(cache_dir / f"hsdb-{digest}.json")
    return p, (dbs[0], dbs[1])


def _store(cache_dir: Path, digest: str, p: Plan, dbs: tuple[Any, Any]) -> None:
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        for name, db in zip(("db", "single"), dbs, strict=True):
            tmp = cache_dir / f"hsdb-{digest}-{name}.tmp"
            tmp.write_bytes(hs.dumpb(db))
            tmp.replace(cache_dir / f"hsdb-{digest}-{name}.bin")
        meta = {"exprs": [e.hex() for e in p.exprs], "ids": list(p.ids), "flags": list(p.flags),
                "exact": list(p.exact), "always": list(p.always)}
        (cache_dir / f"hsdb-{digest}.json").write_text(json.dumps(meta))
    except OSError as exc:  # a cache is an optimisation; never fail a scan for it
        log.debug("cannot write rule cache: %s", exc)
    prune_cache(cache_dir, "hsdb")
