"""The scheduler process: one leader at a time (advisory lock / lock file), jobs declared as
data in the community's timezone, a standby taking over, and `qunyun scheduler` itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import create_engine, text

from app.clock import FixedClock
from app.db.models import OutboxRow
from app.jobs import ALL_JOBS
from app.jobs import posts as posts_job
from app.jobs.registry import JobContext, JobSpec, SchedulerConfig, run_job, schedule_all
from app.runtime import Runtime
from app.scheduler import (
    FileLeaderLock,
    PostgresLeaderLock,
    SchedulerProcess,
    build_scheduler,
    leader_lock_for,
)
from app.services.posts import Targets
from app.settings import Settings
from tests.conftest import ADMIN_TOKEN, BRIDGE_SECRET, SHANGHAI
from tests.jobs.test_posts import add_chats, add_post, count, make_config

ROOT = Path(__file__).resolve().parents[1]


# -- jobs as data ------------------------------------------------------------------------------
def test_all_jobs_have_unique_ids_and_fire_in_the_community_timezone() -> None:
    config = SchedulerConfig()
    now = datetime(2026, 11, 23, 9, 30, tzinfo=SHANGHAI)  # a Monday

    ids = [spec.id for spec in ALL_JOBS]
    fires = {
        spec.id: spec.trigger(config, SHANGHAI).get_next_fire_time(None, now) for spec in ALL_JOBS
    }

    assert len(ids) == len(set(ids))
    assert {"posts.enqueue_due", "reports.weekly"} <= set(ids)
    assert all(fire is not None for fire in fires.values())
    report = fires["reports.weekly"]
    assert report is not None
    assert report.isoformat() == "2026-11-27T17:00:00+08:00"  # Friday 17:00 Beijing time


def test_schedule_all_is_idempotent_and_uses_safe_job_defaults(runtime: Runtime) -> None:
    scheduler = build_scheduler(SHANGHAI, SchedulerConfig())
    context = JobContext(runtime.deps, SchedulerConfig())

    schedule_all(scheduler, ALL_JOBS, context)
    schedule_all(scheduler, ALL_JOBS, context)  # a restart declares them again
    jobs = {job.id: job for job in scheduler.get_jobs()}

    assert str(scheduler.timezone) == "Asia/Shanghai"
    assert set(jobs) == {spec.id for spec in ALL_JOBS}
    assert all(job.coalesce and job.max_instances == 1 for job in jobs.values())
    assert jobs["posts.enqueue_due"].misfire_grace_time == 60


def test_the_trampoline_reports_a_failing_job_without_raising(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(_ctx: JobContext) -> None:
        raise RuntimeError("database on fire")

    spec = JobSpec("test.boom", boom, posts_job.SPEC.trigger, "explodes")

    assert run_job(spec, JobContext(runtime.deps, SchedulerConfig())) is False
    assert "job failed" in caplog.text


# -- leader locks ------------------------------------------------------------------------------
def test_file_lock_admits_one_leader_and_hands_over_on_release(tmp_path: Path) -> None:
    first, second = FileLeaderLock(tmp_path / "x.lock"), FileLeaderLock(tmp_path / "x.lock")

    assert first.try_acquire() is True
    assert second.try_acquire() is False
    assert first.held()
    assert not second.held()
    first.release()
    assert second.try_acquire() is True
    second.release()


def test_lock_kind_follows_the_database(settings: Settings, tmp_path: Path) -> None:
    sqlite = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path}/q.db"})
    postgres = settings.model_copy(
        update={"database_url": "postgresql+psycopg://u@127.0.0.1:1/none"}
    )

    lock = leader_lock_for(sqlite)

    assert isinstance(lock, FileLeaderLock)
    assert isinstance(leader_lock_for(postgres), PostgresLeaderLock)
    assert lock.try_acquire()
    assert (tmp_path / "q.db.scheduler.lock").exists()
    lock.release()


@pytest.fixture
def pg_locks(db_url: str) -> Iterator[list[PostgresLeaderLock]]:
    locks = [PostgresLeaderLock(db_url, key=4242) for _ in range(2)]
    yield locks
    for lock in locks:
        lock.dispose()


@pytest.mark.postgres_only
def test_advisory_lock_admits_one_leader_and_a_standby_takes_over_when_it_dies(
    pg_locks: list[PostgresLeaderLock], db_url: str
) -> None:
    leader, standby = pg_locks
    assert leader.try_acquire() is True
    assert standby.try_acquire() is False

    _terminate_lock_holder(db_url, key=4242)  # the leader's process / connection dies

    assert leader.held() is False
    assert standby.try_acquire() is True
    assert leader.try_acquire() is False


def _terminate_lock_holder(db_url: str, *, key: int) -> None:
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks "
                "WHERE locktype = 'advisory' AND objid = :key AND granted"
            ),
            {"key": key},
        )
    engine.dispose()


# -- two scheduler processes, one database -------------------------------------------------------
class PausedScheduler(BackgroundScheduler):  # type: ignore[misc]  # apscheduler is untyped
    """Starts paused: the test decides when jobs may run (no wall-clock waiting)."""

    def start(self, *args: Any, **kwargs: Any) -> None:
        super().start(paused=True)


def _candidates(runtime: Runtime, db_url: str, tmp_path: Path, key: int) -> list[SchedulerProcess]:
    procs = []
    for _ in range(2):
        lock: PostgresLeaderLock | FileLeaderLock = (
            PostgresLeaderLock(db_url, key=key)
            if db_url.startswith("postgresql")
            else FileLeaderLock(tmp_path / "leader.lock")
        )
        procs.append(
            SchedulerProcess(
                JobContext(runtime.deps, make_config()),
                lock,
                jobs=[posts_job.SPEC],
                scheduler_factory=lambda tz, config: PausedScheduler(timezone=tz),
            )
        )
    return procs


def _run_jobs_once(process: SchedulerProcess) -> None:
    """Let the leader's APScheduler run its start-up jobs and wait for them (an event)."""
    scheduler = process.scheduler
    assert scheduler is not None
    done = threading.Event()
    failures: list[JobExecutionEvent] = []

    def listen(event: JobExecutionEvent) -> None:
        if event.exception is not None:
            failures.append(event)
        done.set()

    scheduler.add_listener(listen, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.resume()
    assert done.wait(timeout=30)
    scheduler.pause()
    assert failures == []


def test_two_scheduler_processes_elect_one_leader_and_post_once_across_a_failover(
    runtime: Runtime, clock: FixedClock, db_url: str, tmp_path: Path
) -> None:
    factory = runtime.deps.session_factory
    add_chats(factory, 5)
    for minutes in (1, 2):
        add_post(
            factory, clock, Targets(tags=("会员",)), at=clock.now() + timedelta(minutes=minutes)
        )
    first, second = _candidates(runtime, db_url, tmp_path, key=777)
    try:
        results = _step_together(first, second)
        assert sorted(results) == [False, True]  # exactly one leader
        leader, standby = (first, second) if first.leading else (second, first)
        clock.advance(minutes=1)
        _run_jobs_once(leader)
        assert count(factory, OutboxRow) == 5

        leader.close()  # the leader stops (or dies); the standby takes over
        clock.advance(minutes=1)
        assert standby.step() is True
        _run_jobs_once(standby)

        assert count(factory, OutboxRow) == 10
        with factory() as session:
            keys = [k for (k,) in session.query(OutboxRow.idempotency_key).all()]
        assert len(set(keys)) == 10
    finally:
        first.close()
        second.close()


def _step_together(*procs: SchedulerProcess) -> list[bool]:
    barrier = threading.Barrier(len(procs))
    results: list[bool] = []

    def step(proc: SchedulerProcess) -> None:
        barrier.wait(timeout=30)
        results.append(proc.step())

    threads = [threading.Thread(target=step, args=(p,)) for p in procs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


# -- the command ---------------------------------------------------------------------------------
def test_qunyun_scheduler_leads_then_stops_cleanly_on_sigterm(db_url: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "ENVIRONMENT": "test",
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "BRIDGE_SECRET": BRIDGE_SECRET,
        "DATA_DIR": str(tmp_path / "data"),
        "PYTHONPATH": str(ROOT),
    }
    with subprocess.Popen(
        [sys.executable, "-c", "from app.cli import main; main()", "scheduler"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stderr is not None
        seen = []
        for line in process.stderr:  # blocks on the process's own output, no sleeping
            seen.append(line)
            if "scheduler leading" in line:
                break
        process.send_signal(signal.SIGTERM)
        rest = process.communicate(timeout=60)[1]

    assert any("scheduler leading" in line for line in seen), "".join(seen)
    assert process.returncode == 0, rest


def test_build_scheduler_never_uses_the_host_zone() -> None:
    scheduler = build_scheduler(ZoneInfo("Asia/Shanghai"), SchedulerConfig(tick_seconds=5))

    assert str(scheduler.timezone) == "Asia/Shanghai"
    assert scheduler._job_defaults["coalesce"] is True
