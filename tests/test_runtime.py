"""The composition root: what starting a runtime does besides starting its threads."""

from __future__ import annotations

import threading

from app.runtime import Runtime


def test_when_warm_runs_once_the_first_messages_would_find_everything_built(
    runtime: Runtime,
) -> None:
    seen: list[tuple[int | None, bool]] = []
    warm = threading.Event()

    def when_warm() -> None:
        seen.append((runtime.deps.faq.version, runtime.deps.moderation.current is not None))
        warm.set()

    assert runtime.deps.faq.version is None
    assert runtime.deps.moderation.current is None
    runtime.start(when_warm=when_warm)

    assert warm.wait(timeout=60)
    assert len(seen) == 1
    faq_version, rules_built = seen[0]
    assert faq_version is not None
    assert rules_built
