"""The single orchestrator: source -> engine -> allow/baseline -> govern, with progress and stats."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from sprawlguard.config import cache_dir, data_dir
from sprawlguard.detect.allow import is_path_allowed
from sprawlguard.detect.engine import Engine, EngineOptions
from sprawlguard.detect.gitleaks import load_gitleaks_config
from sprawlguard.detect.rules import Rule, load_rules, select_rules
from sprawlguard.errors import UsageError
from sprawlguard.govern.classify import classify
from sprawlguard.govern.fingerprint import fingerprint, load_key
from sprawlguard.model import Chunk, Confidence, ItemError, Match, ScanResult, ScanStats, Secret
from sprawlguard.progress import Progress, SilentProgress, make_progress
from sprawlguard.sources.base import Source
from sprawlguard.store.baseline import Baseline, load_baseline

log = logging.getLogger(__name__)


@dataclass
class Scanner:
    """Runs one source through the engine and groups what it finds into secrets."""

    engine: Engine
    key: bytes
    allow_paths: Sequence[str] = ()
    allow_rules: Sequence[str] = ()
    baseline: Baseline | None = None
    progress: Progress = field(default_factory=SilentProgress)

    @property
    def rules(self) -> Mapping[str, Rule]:
        return {r.id: r for r in self.engine.rules}

    def scan(self, source: Source) -> ScanResult:
        """Scan everything the source yields; Ctrl-C stops early and keeps what was found."""
        stats = ScanStats()
        result = ScanResult(secrets=[], stats=stats)
        found: list[tuple[str, Match]] = []
        seen: set[tuple[str, str, str, int]] = set()
        self.progress.start(source.estimate())
        last_uri = None
        try:
            for item in source.chunks(None):
                if isinstance(item, ItemError):
                    self._count_problem(item, result)
                    continue
                if item.location.uri != last_uri:
                    stats.files += 1
                    self.progress.advance(0, files=1)
                    last_uri = item.location.uri
                    seen.clear()
                for fp, m in self._scan_chunk(item, stats):
                    key = (m.rule_id, fp, m.location.uri, m.line)
                    if key not in seen:
                        seen.add(key)
                        found.append((fp, m))
        except KeyboardInterrupt:
            result.interrupted = True
        finally:
            self.progress.stop()
        for problem in self.engine.problems:
            log.warning("%s", problem)
        result.secrets = self._govern(found, stats)
        return result

    def _count_problem(self, item: ItemError, result: ScanResult) -> None:
        if item.kind == "binary":
            result.stats.skipped_binary += 1
            result.skipped.append(item)
        elif item.kind == "too_large":
            result.stats.skipped_too_large += 1
            result.skipped.append(item)
        else:
            result.errors.append(item)

    def _scan_chunk(self, chunk: Chunk, stats: ScanStats) -> list[tuple[str, Match]]:
        stats.chunks += 1
        size = len(chunk.text)
        stats.bytes += size
        self.progress.advance(size)
        if is_path_allowed(chunk.location.path, self.allow_paths):
            stats.skipped_excluded += 1
            return []
        out = []
        for m in self.engine.scan(chunk):
            stats.matches += 1
            if any(m.rule_id.startswith(r) for r in self.allow_rules):
                stats.allowed += 1
                continue
            out.append((fingerprint(m.secret, self.key), m))
        return out

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
    progress: bool | None = None  # None = only on an interactive terminal


def load_all_rules(opts: ScanOptions) -> tuple[list[Rule], list[str], list[str]]:
    """Built-in + user + imported gitleaks rules, filtered; plus imported allow values and paths."""
    rules = load_rules(opts.rules_dirs, builtin=opts.builtin_rules)
    allow_values: list[str] = []
    allow_paths: list[str] = []
    if opts.gitleaks_config is not None:
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
    )
