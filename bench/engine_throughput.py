"""Engine throughput on real text nobody here wrote: this Python's standard library and site-packages.

Run by hand:  python bench/engine_throughput.py [--mb 200] [--repeat 3]

Prints MB/s on one core (the engine alone: hyperscan prefilter + regex confirmation + filters +
decoders), on the corpus as is ("secret-free" up to what the corpus itself contains) and with a fake
secret planted every 64 KB. It never gates CI.
"""

from __future__ import annotations

import argparse
import random
import sys
import sysconfig
import time
from pathlib import Path

from sprawlguard.detect.engine import Engine, EngineOptions
from sprawlguard.detect.fakes import expand
from sprawlguard.detect.rules import load_rules
from sprawlguard.detect.selftest import cases
from sprawlguard.model import Chunk, Confidence, Location

CHUNK = 4 * 1024 * 1024


def corpus(limit_mb: int) -> list[str]:
    """Source files from the stdlib and site-packages, concatenated into 4 MB chunks."""
    roots = [Path(sysconfig.get_paths()["stdlib"]), Path(sysconfig.get_paths()["purelib"])]
    out, buf, size, total = [], [], 0, 0
    for root in roots:
        for p in sorted(root.rglob("*")):
            if p.suffix not in (".py", ".txt", ".rst", ".md", ".cfg", ".toml", ".json", ".html", ".js"):
                continue
            try:
                text = p.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            buf.append(text)
            size += len(text)
            if size >= CHUNK:
                out.append("".join(buf))
                total += size
                buf, size = [], 0
                if total >= limit_mb * 1_000_000:
                    return out
    if buf:
        out.append("".join(buf))
    return out


def plant(chunks: list[str], rules) -> tuple[list[str], int]:
    """Insert one positive rule example (fake values) every 64 KB."""
    examples = [c.text for c in cases(rules) if c.positive]
    rng = random.Random(1)
    planted, n = [], 0
    for text in chunks:
        parts = []
        for i in range(0, len(text), 65536):
            parts.append(text[i : i + 65536])
            parts.append("\n" + rng.choice(examples) + "\n")
            n += 1
        planted.append("".join(parts))
    return planted, n


def run(engine: Engine, chunks: list[str], repeat: int) -> tuple[float, int]:
    mb = sum(len(c.encode("utf-8", "surrogatepass")) for c in chunks) / 1e6
    best, found = float("inf"), 0
    loc = Location("file", "bench")
    for _ in range(repeat):
        t0 = time.perf_counter()
        found = sum(len(engine.scan(Chunk(text=c, location=loc))) for c in chunks)
        best = min(best, time.perf_counter() - t0)
    return mb / best, found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mb", type=int, default=200, help="corpus size cap in MB")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rules = load_rules()
    t0 = time.perf_counter()
    engine = Engine(rules, EngineOptions(min_confidence=Confidence.MEDIUM))
    build = time.perf_counter() - t0
    chunks = corpus(args.mb)
    mb = sum(len(c) for c in chunks) / 1e6
    print(f"python {sys.version.split()[0]}, {len(rules)} rules, database build {build:.2f}s (uncached)")
    print(f"corpus: {mb:.1f} MB from the standard library and site-packages, {len(chunks)} chunks")
    rate, found = run(engine, chunks, args.repeat)
    print(f"engine, corpus as is:         {rate:7.1f} MB/s on one core ({found} findings in the corpus itself)")
    planted, n = plant(chunks, rules)
    rate2, found2 = run(engine, planted, args.repeat)
    print(f"engine, {n} planted secrets: {rate2:7.1f} MB/s on one core ({found2} findings)")
    _ = expand  # (fake values come from the rules' example generators)


if __name__ == "__main__":
    main()
