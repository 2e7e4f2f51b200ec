"""A daemon thread that repeats one pass of work, idles when there is none, and can be woken.

The inbox worker and the outbox dispatcher each run one in every web process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class WakeableLoop:
    """Runs `work()` until stopped. `work` returns True when it did something (so the loop
    goes again at once) and False when idle (so the loop waits `idle_seconds` or a `wake`)."""

    def __init__(self, name: str, work: Callable[[], bool], idle_seconds: float) -> None:
        self._name = name
        self._work = work
        self._idle_seconds = idle_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self._work()
            except Exception:  # a bad pass must not end the thread; the next one may succeed
                log.exception("background pass failed", extra={"loop": self._name})
                busy = False
            if not busy:
                self._wake.wait(self._idle_seconds)
                self._wake.clear()
