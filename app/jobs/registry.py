"""Jobs as data: `JobSpec`, the scheduler configuration, and `schedule_all`.

The scheduler process (`qunyun scheduler`) calls `schedule_all` once it holds the leader lock;
every job is (re)declared with a stable id in a memory job store, so nothing is pickled and a
restart simply declares them again. `run_job` is the trampoline APScheduler calls: it gives the
job a fresh `JobContext`, logs one line per run and keeps a failing job from killing the thread.
"""

from __future__ import annotations

import logging
import re
import time
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from pydantic import BaseModel, Field, field_validator
from sqlalchemy.orm import Session, sessionmaker

from app.clock import Clock
from app.services import AppDeps
from app.services.campaigns import AnnouncementTemplate, parse_offset
from app.services.posts import DeliveryNotes, RobotKeys
from app.settings import CONFIG_DIR

log = logging.getLogger(__name__)
SCHEDULER_CONFIG = CONFIG_DIR / "scheduler.toml"
_HH_MM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class ReportSource(BaseModel):
    """One optional line of the weekly report, counted from another feature's table."""

    line: str
    tables: list[str]
    time_columns: list[str] = []
    status_column: str | None = None
    statuses: list[str] = []


class ReportConfig(BaseModel):
    enabled: bool = True
    day_of_week: str = Field("fri", pattern="^(mon|tue|wed|thu|fri|sat|sun)$")
    time: str = "17:00"
    chat_platform: str = Field("bridge", pattern="^(bridge|wecom_app|wecom_bot|console)$")
    chat_id: str = ""
    grace_hours: float = Field(12.0, ge=0)
    sources: list[ReportSource] = []

    @field_validator("time")
    @classmethod
    def _hh_mm(cls, value: str) -> str:
        if not _HH_MM.match(value):
            raise ValueError("report.time must be HH:MM (24-hour)")
        return value

    @property
    def hour(self) -> int:
        return int(self.time[:2])

    @property
    def minute(self) -> int:
        return int(self.time[3:])


class SchedulerTexts(BaseModel):
    """zh-CN texts the scheduler writes (see config/scheduler.toml)."""

    report_title: str = "【群运周报】{start} – {end}"
    report_posts: str = (
        "· 定时内容：已发送 {sent}，失败 {failed}，错过 {missed}，待员工确认 {awaiting}"
    )
    report_members: str = "· 成员：新加入 {joined} 人，退出 {left} 人"
    report_footer: str = ""
    missed_alert: str = (
        "⚠️ 定时内容「{title}」原定 {due_at} 发送，调度器停机超过 {grace} 分钟，已标记为错过。"
    )
    missed_note: str = "错过：超过宽限时间未能发送"
    awaiting_confirmation: str = "客户群只能由员工确认群发任务后发送"
    bot_cannot_post: str = "智能机器人只能回复消息，不能主动发帖；请为该群绑定群机器人"

    def notes(self) -> DeliveryNotes:
        return DeliveryNotes(self.awaiting_confirmation, self.bot_cannot_post)


class TemplateConfig(BaseModel):
    key: str
    anchor: str = Field(pattern="^(start|end)$")
    offset: str
    text: str
    format: str = Field("text", pattern="^(text|markdown)$")


class SchedulerConfig(BaseModel):
    """config/scheduler.toml: timing of the scheduler, the weekly report, robots, texts."""

    tick_seconds: float = Field(5.0, gt=0, le=300)
    grace_seconds: int = Field(600, ge=0)
    batch_size: int = Field(100, ge=1, le=5000)
    max_catch_up: int = Field(100, ge=1)
    leader_retry_seconds: float = Field(5.0, gt=0)
    report: ReportConfig = ReportConfig()
    robots: dict[str, str] = {}
    texts: SchedulerTexts = SchedulerTexts()
    announcements: list[TemplateConfig] = []

    @property
    def grace(self) -> timedelta:
        return timedelta(seconds=self.grace_seconds)

    def robot_keys(self) -> RobotKeys:
        return RobotKeys(dict(self.robots))

    def announcement_templates(self) -> list[AnnouncementTemplate]:
        """The default campaign announcements (活动预告, 开始提醒, 结束提醒 ...)."""
        return [
            AnnouncementTemplate(
                key=t.key,
                anchor="start" if t.anchor == "start" else "end",
                offset=parse_offset(t.offset),
                text=t.text,
                format=t.format,
            )
            for t in self.announcements
        ]


def load_scheduler_config(path: Path = SCHEDULER_CONFIG) -> SchedulerConfig:
    """Read the file (defaults for anything missing); ValueError on a bad value."""
    data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    return SchedulerConfig.model_validate(data)


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a job run gets: process dependencies, the scheduler config, a wake-up hook."""

    deps: AppDeps
    config: SchedulerConfig
    on_enqueued: Callable[[], None] = field(default=lambda: None)

    @property
    def clock(self) -> Clock:
        return self.deps.clock

    @property
    def tz(self) -> tzinfo:
        return self.deps.settings.tz

    @property
    def factory(self) -> sessionmaker[Session]:
        return self.deps.session_factory

    def now(self) -> datetime:
        return self.deps.clock.now()


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A job: stable id, what runs, when (built from config and the community zone)."""

    id: str
    run: Callable[[JobContext], object]
    trigger: Callable[[SchedulerConfig, tzinfo], BaseTrigger]
    description: str
    run_at_start: bool = False  # catch up at once after a (re)start instead of waiting
    misfire_grace_seconds: int = 300


def schedule_all(
    scheduler: BaseScheduler, specs: Iterable[JobSpec], context: JobContext
) -> list[str]:
    """Declare every job (idempotent: stable ids, replace_existing); returns their ids."""
    ids: list[str] = []
    for spec in specs:
        options: dict[str, Any] = {}
        if spec.run_at_start:
            # APScheduler runs on the wall clock, whatever clock the jobs themselves use.
            options["next_run_time"] = datetime.now(context.tz)
        scheduler.add_job(
            run_job,
            trigger=spec.trigger(context.config, context.tz),
            args=(spec, context),
            id=spec.id,
            name=spec.description,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=spec.misfire_grace_seconds,
            **options,
        )
        ids.append(spec.id)
    return ids


def run_job(spec: JobSpec, context: JobContext) -> bool:
    """The trampoline: run one job, log its outcome; False if it raised."""
    started = time.perf_counter()
    try:
        result = spec.run(context)
    except Exception:
        log.exception("job failed", extra={"job": spec.id})
        return False
    elapsed_ms = round((time.perf_counter() - started) * 1000)
    log.info("job done", extra={"job": spec.id, "ms": elapsed_ms, "result": repr(result)})
    return True
