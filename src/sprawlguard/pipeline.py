"""The single orchestrator: source -> engine -> allow/baseline -> govern, with progress and stats."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from sprawlguard import parallel
from sprawlguard.config import cache_dir, data_dir
from sprawlguard.detect.allow import is_path_allowed
from sprawlguard.detect.engine import Engine, EngineOptions
from sprawlguard.detect.rules import Rule, load_rules, select_rules
from sprawlguard.errors import UsageError
from sprawlguard.govern.classify import classify
from sprawlguard.govern.fingerprint import fingerprint, load_key
from sprawlguard.model import Chunk, Confidence, ItemError, Match, ScanResult, ScanStats, Secret
from sprawlguard.progress import Progress, SilentProgress, make_progress
from sprawlguard.sources.base import Checkpoint, Source
from sprawlguard.store.baseline import Baseline, load_baseline

log = logging.getLogger(__name__)

PARALLEL_MIN_BYTES = 8 << 20  # below this, starting worker processes costs more than it saves
FLUSH_EVERY = 30.0  # seconds between intermediate commits of an incremental scan

# Called with the secrets found so far and the source's checkpoint, so an interrupted scan resumes there.
Flush = Callable[[ScanResult, Checkpoint], None]


@dataclass
class Scanner:
    """Runs one source through the engine and groups what it finds into secrets."""

    engine: Engine
    key: bytes
    allow_paths: Sequence[str] = ()
    allow_rules: Sequence[str] = ()
    baseline: Baseline | None = None
    progress: Progress = field(default_factory=SilentProgress)
    jobs: int = 1  # worker processes; 0 = auto (see `auto_jobs`)

    @property
    def rules(self) -> Mapping[str, Rule]:
        return {r.id: r for r in self.engine.rules}

    def scan(self, source: Source, resume: Checkpoint | None = None, flush: Flush | None = None,
             flush_every: float | None = None) -> ScanResult:
        """Scan everything the source yields; Ctrl-C stops early and keeps what was found.

        `resume` is the checkpoint an earlier run stored for this source. With `flush`, every
        `flush_every` seconds the secrets found so far and `source.checkpoint()` are handed over
        (between chunks, so the checkpoint never claims a chunk that was not scanned).
        """
        stats = ScanStats()
        result = ScanResult(secrets=[], stats=stats)
        found: list[tuple[str, Match]] = []
        seen: set[tuple[str, str, str, int]] = set()
        estimate = source.estimate()
        self.progress.start(estimate)
        jobs = (self.jobs or auto_jobs(source)) if estimate is not None and estimate >= PARALLEL_MIN_BYTES else 1
        last_uri = None
        last_flush = time.monotonic()
        try:
            for chunk, matches in self._matches(source, result, jobs, resume):
                if chunk.location.uri != last_uri:
                    stats.files += 1
                    self.progress.advance(0, files=1)
                    last_uri = chunk.location.uri
                    seen.clear()
                stats.chunks += 1
                stats.bytes += len(chunk.text)
                self.progress.advance(len(chunk.text))
                for m in matches:
                    stats.matches += 1
                    if any(m.rule_id.startswith(r) for r in self.allow_rules):
                        stats.allowed += 1
                        continue
                    fp = fingerprint(m.secret, self.key)
                    key = (m.rule_id, fp, m.location.uri, m.line)
                    if key not in seen:
                        seen.add(key)
                        found.append((fp, m))
                if flush is not None and time.monotonic() - last_flush >= (
                        FLUSH_EVERY if flush_every is None else flush_every):  # read at call time: monkeypatchable
                    flush(ScanResult(self._govern(list(found), stats), stats, list(result.errors)),
                          source.checkpoint())
                    last_flush = time.monotonic()
        except KeyboardInterrupt:
            result.interrupted = True
        finally:
            self.progress.stop()
        for problem in self.engine.problems:
            log.warning("%s", problem)
        found = self._resolve(source, found)
        result.secrets = self._govern(found, stats)
        return result

    def _resolve(self, source: Source, found: list[tuple[str, Match]]) -> list[tuple[str, Match]]:
        """Optional source hook `resolve(matches) -> matches`, run once after matching.

        Lets a source attach costly provenance only to what matched (git history maps matched blobs
        to commits and paths). Allowlisted paths are dropped again once the paths are known.
        """
        resolve = getattr(source, "resolve", None)
        if resolve is None or not found:
            return found
        resolved: list[Match] = resolve([m for _, m in found])
        return [(fingerprint(m.secret, self.key), m) for m in resolved
                if not is_path_allowed(m.location.path, self.allow_paths)]

    def _chunks(self, source: Source, result: ScanResult, resume: Checkpoint | None) -> Iterator[Chunk]:
        """The source's chunks, with per-item problems counted and allowlisted paths dropped."""
        for item in source.chunks(resume):
            if isinstance(item, ItemError):
                self._count_problem(item, result)
            elif is_path_allowed(item.location.path, self.allow_paths):
                result.stats.skipped_excluded += 1
            else:
                yield item

    def _matches(
        self, source: Source, result: ScanResult, jobs: int, resume: Checkpoint | None = None
    ) -> Iterator[tuple[Chunk, list[Match]]]:
        """(chunk, matches) in source order; on several cores when `jobs` > 1."""
        chunks = self._chunks(source, result, resume)
        if jobs <= 1:
            for chunk in chunks:
                yield chunk, self.engine.scan(chunk)
            return
        yield from parallel.scan(self.engine, chunks, jobs)

    def _count_problem(self, item: ItemError, result: ScanResult) -> None:
        if item.kind == "binary":
            result.stats.skipped_binary += 1
            result.skipped.append(item)
        elif item.kind == "too_large":
            result.stats.skipped_too_large += 1
            result.skipped.append(item)
        elif item.kind == "error":
            result.errors.append(item)
        else:  # another skip reason (e.g. a Slack channel the app is not in): only counted
            result.skipped.append(item)

    def _govern(self, found: list[tuple[str, Match]], stats: ScanStats) -> list[Secret]:
        secrets = classify(found, self.rules)
        if self.baseline is None:
            return secrets
        out = []
        for s in secrets:
            known = self.baseline.contains(s)
            if known:
                stats.baselined += 1
            out.append(replace(s, new=not known))
        return out


@dataclass
class ScanOptions:
    """Everything the CLI (or a scheduled config) decides about a scan, as plain values."""

    rules_dirs: Sequence[Path] = ()
    builtin_rules: bool = True
    gitleaks_config: Path | None = None
    enable_rules: Sequence[str] = ()
    disable_rules: Sequence[str] = ()
    min_confidence: str = "medium"
    allow_paths: Sequence[str] = ()
    allow_values: Sequence[str] = ()
    allow_rules: Sequence[str] = ()
    baseline: Path | None = None
    decode_depth: int = 2
    honour_inline_allow: bool = True  # False: audit mode, a committed allow comment hides nothing
    progress: bool | None = None  # None = only on an interactive terminal
    jobs: int = 0  # worker processes; 0 = one per core


def load_all_rules(opts: ScanOptions) -> tuple[list[Rule], list[str], list[str]]:
    """Built-in + user + imported gitleaks rules, filtered; plus imported allow values and paths."""
    rules = load_rules(opts.rules_dirs, builtin=opts.builtin_rules, cache=cache_dir())
    allow_values: list[str] = []
    allow_paths: list[str] = []
    if opts.gitleaks_config is not None:
        from sprawlguard.detect.gitleaks import load_gitleaks_config

        imported = load_gitleaks_config(opts.gitleaks_config)
        known = {r.id for r in rules}
        rules += [r for r in imported.rules if r.id not in known]
        allow_values += imported.allow_values
        allow_paths += imported.allow_path_regexes
    return select_rules(rules, opts.enable_rules, opts.disable_rules), allow_values, allow_paths


def build_scanner(opts: ScanOptions) -> Scanner:
    """Rules -> engine -> scanner, with the installation's fingerprint key and the baseline."""
    rules, gl_values, gl_path_regexes = load_all_rules(opts)
    if not rules:
        raise UsageError("no rules selected", hint="check --rules, enable_rules and disable_rules")
    engine = Engine(
        rules,
        EngineOptions(
            min_confidence=Confidence(opts.min_confidence),
            decode_depth=opts.decode_depth,
            honour_inline_allow=opts.honour_inline_allow,
            allow_values=tuple(opts.allow_values) + tuple(gl_values),
            allow_path_regexes=tuple(gl_path_regexes),
            cache_dir=cache_dir(),
        ),
    )
    return Scanner(
        engine=engine,
        key=load_key(data_dir() / "fingerprint.key"),
        allow_paths=tuple(opts.allow_paths),
        allow_rules=tuple(opts.allow_rules),
        baseline=load_baseline(opts.baseline) if opts.baseline else None,
        progress=make_progress(opts.progress),
        jobs=opts.jobs,
    )


def auto_jobs(source: Source) -> int:
    """One worker per core, less the cores the source's own helpers keep busy (a history scan's
    `git cat-file`): on 2 cores a git scan runs in-process, which measured faster than a reader
    process that decodes and ships every blob to 2 workers (1.01 s vs 1.21 s, bench/git_history.py)."""
    return max(1, (os.cpu_count() or 1) - getattr(source, "helper_processes", 0))
