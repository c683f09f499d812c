"""Scan chunks on several cores: the main process reads, worker processes run the engine.

Workers are forked after the engine is built, so they share its compiled databases instead of
rebuilding them (where fork is unavailable, each worker rebuilds the engine from the same rules,
loading the compiled database from the on-disk cache). Chunks travel in batches of about 1 MB to
keep inter-process overhead small; results come back in source order.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from sprawlguard.detect.engine import Engine
from sprawlguard.model import Chunk, Match

if TYPE_CHECKING:
    from multiprocessing.pool import AsyncResult

BATCH_BYTES = 1 << 20
_ENGINE: Engine | None = None


def _init(engine: Engine | None, rules: object = None, options: object = None) -> None:
    global _ENGINE
    _ENGINE = engine if engine is not None else Engine(rules, options)  # type: ignore[arg-type]


def _scan_batch(batch: list[Chunk]) -> list[list[Match]]:
    assert _ENGINE is not None
    return [_ENGINE.scan(c) for c in batch]


def _batches(chunks: Iterable[Chunk]) -> Iterator[list[Chunk]]:
    batch: list[Chunk] = []
    size = 0
    for c in chunks:
        batch.append(c)
        size += len(c.text)
        if size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def scan(engine: Engine, chunks: Iterable[Chunk], jobs: int) -> Iterator[tuple[Chunk, list[Match]]]:
    """(chunk, matches) for every chunk, in order, computed by `jobs` worker processes.

    At most 2 x `jobs` batches are in flight, so memory stays bounded whatever the source size.
    """
    import multiprocessing  # lazy: a one-file hook scan never starts workers

    global _ENGINE
    if sys.platform.startswith("linux"):
        _ENGINE = engine  # forked workers inherit the built engine
        pool = multiprocessing.get_context("fork").Pool(jobs)
    else:  # pragma: no cover - spawn: rebuild the engine in each worker (from the disk cache)
        pool = multiprocessing.get_context("spawn").Pool(
            jobs, initializer=_init, initargs=(None, list(engine.rules), engine.options))
    in_flight: deque[tuple[list[Chunk], AsyncResult[list[list[Match]]]]] = deque()
    try:
        for batch in _batches(chunks):
            in_flight.append((batch, pool.apply_async(_scan_batch, (batch,))))
            while len(in_flight) >= 2 * jobs:
                done, res = in_flight.popleft()
                yield from zip(done, res.get(), strict=True)
        while in_flight:
            done, res = in_flight.popleft()
            yield from zip(done, res.get(), strict=True)
    finally:
        pool.terminate()
        pool.join()
