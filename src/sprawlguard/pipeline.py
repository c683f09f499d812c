"""The single orchestrator: source -> engine -> allow/baseline -> govern, with progress and stats."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from sprawlguard.detect.allow import is_path_allowed
from sprawlguard.detect.engine import Engine
from sprawlguard.detect.rules import Rule
from sprawlguard.govern.classify import classify
from sprawlguard.govern.fingerprint import fingerprint
from sprawlguard.model import Chunk, ItemError, Match, ScanResult, ScanStats, Secret
from sprawlguard.progress import Progress, SilentProgress
from sprawlguard.sources.base import Source

log = logging.getLogger(__name__)

@dataclass
class Scanner:
    """Runs one source through the engine and groups what it finds into secrets."""

    engine: Engine
    key: bytes
    allow_paths: Sequence[str] = ()
    allow_rules: Sequence[str] = ()
    baseline: set[tuple[str, str]] | None = None
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
            known = any((e.rule_id, s.fingerprint) in self.baseline for e in s.exposures)
            if known:
                stats.baselined += 1
            out.append(replace(s, new=not known))
        return out
