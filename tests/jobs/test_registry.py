"""Every declared job has a unique id and a trigger that fires in the community's zone."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from app.clock import FixedClock
from app.jobs import ALL_JOBS
from app.jobs.registry import load_scheduler_config


def test_job_ids_are_unique() -> None:
    ids = [spec.id for spec in ALL_JOBS]
    assert len(ids) == len(set(ids))


def test_every_trigger_computes_a_next_fire_time(clock: FixedClock) -> None:
    tz = ZoneInfo("Asia/Shanghai")
    config = load_scheduler_config()
    now = clock.now().astimezone(tz)
    for spec in ALL_JOBS:
        fire = spec.trigger(config, tz).get_next_fire_time(None, now)
        assert fire is not None, spec.id
        assert fire >= now, spec.id


def test_points_expiry_runs_after_midnight_local_time(clock: FixedClock) -> None:
    tz = ZoneInfo("Asia/Shanghai")
    spec = next(s for s in ALL_JOBS if s.id == "points.expiry")
    fire = spec.trigger(load_scheduler_config(), tz).get_next_fire_time(
        None, clock.now().astimezone(tz)
    )
    assert (fire.hour, fire.minute) == (0, 10)
