"""The composition root: what starting a runtime does besides starting its threads."""

from __future__ import annotations

import threading

from app.runtime import Runtime


def test_when_warm_runs_once_the_faq_index_is_built(runtime: Runtime) -> None:
    versions_seen: list[int | None] = []
    warm = threading.Event()

    def when_warm() -> None:
        versions_seen.append(runtime.deps.faq.version)
        warm.set()

    assert runtime.deps.faq.version is None
    runtime.start(when_warm=when_warm)

    assert warm.wait(timeout=60)
    assert len(versions_seen) == 1
    assert versions_seen[0] is not None
