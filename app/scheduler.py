"""`qunyun scheduler`: the single scheduler process.

Only the holder of the leader lock schedules: on PostgreSQL a session advisory lock
(`pg_try_advisory_lock`) on a dedicated connection, on SQLite an `fcntl` lock on a file next to
the database. A standby retries every `leader_retry_seconds` and takes over when the leader's
connection (or process) dies. The leader runs APScheduler 3 (BackgroundScheduler, explicit
community timezone, memory job store) with the jobs declared in `app.jobs.ALL_JOBS`; every
process also runs the outbox dispatcher, which does the sending. Even if two leaders ever ran,
the unique keys of the enqueue job keep every post to one outbox row per group.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import threading
from collections.abc import Callable, Sequence
from datetime import tzinfo
from pathlib import Path
from types import FrameType
from typing import IO, Protocol

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from app.clock import Clock
from app.jobs import ALL_JOBS
from app.jobs.registry import JobContext, JobSpec, SchedulerConfig, schedule_all
from app.runtime import build_runtime
from app.settings import Settings, normalize_database_url

log = logging.getLogger(__name__)
# pg_try_advisory_lock key: "QYSC" (Qunyun scheduler) as a 32-bit integer.
LEADER_LOCK_KEY = 0x51595343


class LeaderLock(Protocol):
    def try_acquire(self) -> bool:
        """Take the lock if free; True if this process holds it now."""
        ...

    def held(self) -> bool:
        """Whether the lock is still ours (False after a lost connection)."""
        ...

    def release(self) -> None: ...


class PostgresLeaderLock:
    """A session advisory lock on its own connection; it lives as long as that connection."""

    def __init__(self, database_url: str, key: int = LEADER_LOCK_KEY) -> None:
        # NullPool: closing really closes, so the lock can never linger on a pooled connection.
        self._engine: Engine = create_engine(
            normalize_database_url(database_url), poolclass=NullPool
        )
        self._key = key
        self._connection: Connection | None = None

    def try_acquire(self) -> bool:
        if self._connection is not None:
            return self.held()
        try:
            connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except DBAPIError:
            log.warning("leader lock: database unreachable")
            return False
        if connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}):
            self._connection = connection
            return True
        connection.close()
        return False

    def held(self) -> bool:
        if self._connection is None:
            return False
        try:
            self._connection.scalar(text("SELECT 1"))
        except DBAPIError:
            log.error("leader lock: connection lost")
            self._drop()
            return False
        return True

    def release(self) -> None:
        if self._connection is None:
            return
        with contextlib.suppress(DBAPIError):  # a lost connection took the lock with it
            self._connection.scalar(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
        self._drop()

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.invalidate()
            self._connection.close()
            self._connection = None

    def dispose(self) -> None:
        self.release()
        self._engine.dispose()


class FileLeaderLock:
    """An exclusive `flock` on a file: one leader per machine (SQLite is single-host)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._file: IO[str] | None = None

    def try_acquire(self) -> bool:
        if self._file is not None:
            return True
        self._path.parent.mkdir(parents=True, exist_ok=True)
        handle = self._path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return True

    def held(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def dispose(self) -> None:
        self.release()


def leader_lock_for(settings: Settings) -> PostgresLeaderLock | FileLeaderLock:
    """The lock that fits the database: advisory lock on PostgreSQL, a lock file on SQLite."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "postgresql":
        return PostgresLeaderLock(settings.database_url)
    database = url.database
    if database and database != ":memory:":
        return FileLeaderLock(Path(f"{database}.scheduler.lock"))
    return FileLeaderLock(settings.data_dir / "scheduler.lock")


def build_scheduler(tz: tzinfo, config: SchedulerConfig) -> BackgroundScheduler:
    """APScheduler with the community's zone (never the host's) and a memory job store."""
    return BackgroundScheduler(
        timezone=tz,
        jobstores={"default": MemoryJobStore()},
        executors={"default": ThreadPoolExecutor(max_workers=2)},
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": max(int(config.tick_seconds * 2), 30),
        },
    )


class SchedulerProcess:
    """Leader election around an APScheduler instance; `step()` is one election round."""

    def __init__(
        self,
        context: JobContext,
        lock: LeaderLock,
        *,
        jobs: Sequence[JobSpec] = ALL_JOBS,
        scheduler_factory: Callable[[tzinfo, SchedulerConfig], BackgroundScheduler] = (
            build_scheduler
        ),
    ) -> None:
        self._context = context
        self._lock = lock
        self._jobs = list(jobs)
        self._factory = scheduler_factory
        self._scheduler: BackgroundScheduler | None = None

    @property
    def leading(self) -> bool:
        return self._scheduler is not None

    @property
    def scheduler(self) -> BackgroundScheduler | None:
        return self._scheduler

    def step(self) -> bool:
        """Take the lead if the lock is free; step down if it was lost. True while leading."""
        if self._scheduler is None:
            if self._lock.try_acquire():
                self._lead()
        elif not self._lock.held():
            log.error("leader lock lost; scheduling stops here")
            self._follow()
        return self.leading

    def run(self, stop: threading.Event) -> None:
        """Elect, schedule, re-check, until `stop` is set."""
        try:
            while not stop.is_set():
                try:
                    self.step()
                except Exception:  # a database hiccup must not end the process
                    log.exception("leader election failed; retrying")
                stop.wait(self._context.config.leader_retry_seconds)
        finally:
            self.close()

    def close(self) -> None:
        self._follow()
        self._lock.release()

    def _lead(self) -> None:
        scheduler = self._factory(self._context.tz, self._context.config)
        ids = schedule_all(scheduler, self._jobs, self._context)
        scheduler.start()
        self._scheduler = scheduler
        log.info("scheduler leading", extra={"jobs": ",".join(ids), "pid": os.getpid()})

    def _follow(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None


def run_scheduler(
    settings: Settings,
    config: SchedulerConfig,
    *,
    clock: Clock | None = None,
    stop: threading.Event | None = None,
) -> None:
    """The process: outbox dispatcher always, jobs while leading; returns when stopped."""
    stop = stop or threading.Event()
    runtime = build_runtime(settings, clock=clock)
    context = JobContext(runtime.deps, config, on_enqueued=runtime.outbox.wake)
    lock = leader_lock_for(settings)
    _stop_on_signals(stop)
    runtime.outbox.start()
    try:
        SchedulerProcess(context, lock).run(stop)
    finally:
        runtime.outbox.stop()
        lock.dispose()
        runtime.stop()


def _stop_on_signals(stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return

    def _handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)
