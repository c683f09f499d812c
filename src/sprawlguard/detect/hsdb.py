"""The multi-pattern pass: every rule (and decoder trigger) in one hyperscan database, cached on disk.

Each rule's pattern is compiled in hyperscan's prefilter mode, which may report a superset of the
real matches (the engine confirms each with the `regex` module). A pattern hyperscan cannot take
falls back to its keywords as caseless literals; a rule with neither runs on every chunk.
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

from sprawlguard.detect.rules import Rule

log = logging.getLogger(__name__)

_FLAGS = hs.HS_FLAG_PREFILTER | hs.HS_FLAG_SINGLEMATCH | hs.HS_FLAG_ALLOWEMPTY
_LITERAL_FLAGS = hs.HS_FLAG_SINGLEMATCH | hs.HS_FLAG_CASELESS


def _expr_for(rule: Rule) -> tuple[bytes, int] | None:
    return rule.pattern.encode("utf-8"), _FLAGS


def _keywords_expr(rule: Rule) -> tuple[bytes, int] | None:
    if not rule.keywords:
        return None
    return "|".join(re.escape(k) for k in rule.keywords).encode("utf-8"), _LITERAL_FLAGS


def _compiles(expr: bytes, flags: int) -> bool:
    db = hs.Database(mode=hs.HS_MODE_BLOCK)
    try:
        db.compile(expressions=[expr], ids=[0], elements=1, flags=[flags])
    except hs.error:
        return False
    return True


@dataclass(slots=True)
class MultiMatcher:
    """Which rules and triggers fire anywhere in a text, in one pass."""

    n_rules: int
    db: Any
    always: tuple[int, ...] = ()
    _hits: set[int] = field(default_factory=set)

    @classmethod
    def build(
        cls, rules: Sequence[Rule], triggers: Sequence[bytes], cache_dir: Path | None = None
    ) -> MultiMatcher:
        """Compile (or load from the cache) the database for `rules` plus decoder `triggers`."""
        digest = hashlib.sha256(
            json.dumps([[r.pattern, list(r.keywords)] for r in rules] + [t.hex() for t in triggers])
            .encode()
        ).hexdigest()[:32]
        cached = _load(cache_dir, digest) if cache_dir else None
        if cached is not None:
            db, always = cached
            return cls(n_rules=len(rules), db=db, always=tuple(always))
        exprs, ids, flags, always = _plan(rules, triggers)
        db = hs.Database(mode=hs.HS_MODE_BLOCK)
        if exprs:
            db.compile(expressions=exprs, ids=ids, elements=len(exprs), flags=flags)
        if cache_dir:
            _store(cache_dir, digest, db, always)
        return cls(n_rules=len(rules), db=db, always=tuple(always))

    def fired(self, text: str) -> tuple[list[int], list[int]]:
        """(rule indices, trigger indices) that fire in `text`."""
        hits = self._hits
        hits.clear()
        data = text.encode("utf-8", "surrogatepass")
        if data:
            self.db.scan(data, match_event_handler=_collect, context=hits)
        rules = sorted({*(h for h in hits if h < self.n_rules), *self.always})
        triggers = sorted(h - self.n_rules for h in hits if h >= self.n_rules)
        return rules, triggers


def _collect(idx: int, start: int, end: int, flags: int, context: set[int]) -> None:
    context.add(idx)


def _plan(
    rules: Sequence[Rule], triggers: Sequence[bytes]
) -> tuple[list[bytes], list[int], list[int], list[int]]:
    exprs: list[bytes] = []
    ids: list[int] = []
    flags: list[int] = []
    always: list[int] = []
    for i, rule in enumerate(rules):
        chosen = None
        for cand in (_expr_for(rule), _keywords_expr(rule)):
            if cand is not None and _compiles(*cand):
                chosen = cand
                break
        if chosen is None:
            log.warning("rule %s: no fast prefilter; it runs on every chunk", rule.id)
            always.append(i)
            continue
        exprs.append(chosen[0])
        ids.append(i)
        flags.append(chosen[1])
    for j, t in enumerate(triggers):
        exprs.append(t)
        ids.append(len(rules) + j)
        flags.append(hs.HS_FLAG_SINGLEMATCH)
    return exprs, ids, flags, always


def _load(cache_dir: Path, digest: str) -> tuple[Any, list[int]] | None:
    db_path = cache_dir / f"hsdb-{digest}.bin"
    meta_path = cache_dir / f"hsdb-{digest}.json"
    try:
        db = hs.loadb(db_path.read_bytes(), mode=hs.HS_MODE_BLOCK)
        db.scratch = hs.Scratch(db)  # a deserialised database has no scratch space yet
        always = json.loads(meta_path.read_text())["always"]
    except (OSError, ValueError, KeyError, hs.error):
        return None
    return db, [int(a) for a in always]


def _store(cache_dir: Path, digest: str, db: Any, always: list[int]) -> None:
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache_dir / f"hsdb-{digest}.tmp"
        tmp.write_bytes(hs.dumpb(db))
        (cache_dir / f"hsdb-{digest}.json").write_text(json.dumps({"always": always}))
        tmp.replace(cache_dir / f"hsdb-{digest}.bin")
    except OSError as exc:  # a cache is an optimisation; never fail a scan for it
        log.debug("cannot write rule cache: %s", exc)
