"""When a scheduled post fires: one-off times, cron expressions and RRULEs in the community zone.

Pure functions over a `Schedule`; nothing here touches the database. Cron uses croniter (five
fields, wall-clock time in the community's zone, `L` for the last day of a month), RRULE uses
python-dateutil (RFC 5545, the rule's DTSTART is the schedule's `start`). A day filter can skip
Chinese public holidays or keep only workdays (including 调休 make-up workdays), from the
maintained `chinese_calendar` package; for years it has no data yet, no day counts as a public
holiday and workdays are Monday to Friday.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from functools import lru_cache
from typing import Any, Literal

import chinese_calendar
from croniter import CroniterBadDateError, croniter
from dateutil.rrule import rrule, rrulestr

log = logging.getLogger(__name__)
ScheduleKind = Literal["once", "cron", "rrule"]
CRON_FIELDS = 5
# A filter that rejects every day must not loop forever: look this far ahead at most.
SEARCH_HORIZON = timedelta(days=3 * 366)
_TINY = timedelta(microseconds=1)
SATURDAY = 5  # date.weekday()


class DayFilter(StrEnum):
    """Which calendar days a recurring post may fire on."""

    ALL = "all"
    SKIP_HOLIDAYS = "skip_holidays"  # no post on a statutory public holiday (国庆, 春节, ...)
    WORKDAYS = "workdays"  # only official workdays, including 调休 make-up days


@dataclass(frozen=True, slots=True)
class Schedule:
    """A post's timing. `at` for once; `cron` or `rrule` plus an optional window otherwise."""

    kind: ScheduleKind
    at: datetime | None = None
    cron: str | None = None
    rrule: str | None = None
    start: datetime | None = None
    until: datetime | None = None
    days: DayFilter = DayFilter.ALL

    @property
    def recurring(self) -> bool:
        return self.kind != "once"

    def to_dict(self) -> dict[str, Any]:
        """The JSON stored in posts.schedule (times as UTC ISO strings)."""
        data: dict[str, Any] = {"kind": self.kind, "days": str(self.days)}
        for name in ("at", "start", "until"):
            value: datetime | None = getattr(self, name)
            if value is not None:
                data[name] = value.astimezone(UTC).isoformat()
        if self.cron is not None:
            data["cron"] = self.cron
        if self.rrule is not None:
            data["rrule"] = self.rrule
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schedule:
        """Read what `to_dict` stored (trusted data, already validated)."""
        return cls(
            kind=data["kind"],
            at=_stored_time(data.get("at")),
            cron=data.get("cron"),
            rrule=data.get("rrule"),
            start=_stored_time(data.get("start")),
            until=_stored_time(data.get("until")),
            days=DayFilter(data.get("days", "all")),
        )


def _stored_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def local_time(value: datetime, tz: tzinfo) -> datetime:
    """An aware datetime; a naive one is read as wall-clock time in the community's zone."""
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


def make_schedule(
    *,
    tz: tzinfo,
    now: datetime,
    at: datetime | None = None,
    cron: str | None = None,
    rule: str | None = None,
    start: datetime | None = None,
    until: datetime | None = None,
    days: DayFilter | str = DayFilter.ALL,
) -> Schedule:
    """Validate one of at / cron / rule and build a Schedule; ValueError names the problem."""
    given = [name for name, value in (("at", at), ("cron", cron), ("rrule", rule)) if value]
    if len(given) != 1:
        raise ValueError("give exactly one of schedule.at, schedule.cron or schedule.rrule")
    try:
        day_filter = DayFilter(days)
    except ValueError:
        raise ValueError("schedule.days must be all, skip_holidays or workdays") from None
    if at is not None:
        return Schedule(kind="once", at=local_time(at, tz).astimezone(UTC), days=day_filter)
    first = local_time(start, tz) if start is not None else now
    schedule = Schedule(
        kind="cron" if cron else "rrule",
        cron=_checked_cron(cron) if cron else None,
        rrule=_checked_rrule(rule, tz) if rule else None,
        start=first.astimezone(UTC).replace(second=0, microsecond=0),
        until=local_time(until, tz).astimezone(UTC) if until is not None else None,
        days=day_filter,
    )
    if schedule.until is not None and schedule.until <= (schedule.start or now):
        raise ValueError("schedule.until must be after schedule.start")
    if next_fire(schedule, max(now, schedule.start or now), tz) is None:
        raise ValueError("the schedule never fires (check the rule, until and days)")
    return schedule


def _checked_cron(expression: str) -> str:
    expression = " ".join(expression.split())
    if len(expression.split(" ")) != CRON_FIELDS:
        raise ValueError("schedule.cron needs five fields: minute hour day month weekday")
    if not croniter.is_valid(expression):
        raise ValueError(f"schedule.cron is not a valid cron expression: {expression!r}")
    return expression


def _checked_rrule(text: str, tz: tzinfo) -> str:
    text = text.strip().removeprefix("RRULE:").strip()
    if not text or "\n" in text or "DTSTART" in text.upper():
        raise ValueError("schedule.rrule is one RRULE line; give its start as schedule.start")
    if "FREQ=SECONDLY" in text.upper().replace(" ", ""):
        raise ValueError("schedule.rrule may not repeat every second")
    try:
        _rule(text, datetime(2000, 1, 1, tzinfo=tz))
    except (ValueError, TypeError) as error:
        raise ValueError(f"schedule.rrule is not a valid RRULE: {error}") from None
    return text


def _rule(text: str, start_local: datetime) -> rrule:
    parsed = rrulestr(text, dtstart=start_local)
    if not isinstance(parsed, rrule):
        raise ValueError("only a single RRULE is supported")
    return parsed


# -- computing fire times ------------------------------------------------------------------
def next_fire(
    schedule: Schedule, after: datetime, tz: tzinfo, *, inclusive: bool = True
) -> datetime | None:
    """The first fire time at or after `after` (strictly after unless `inclusive`), in UTC."""
    if schedule.kind == "once":
        assert schedule.at is not None
        hit = schedule.at >= after if inclusive else schedule.at > after
        return schedule.at if hit else None
    cursor = after - _TINY if inclusive else after
    if schedule.start is not None and cursor < schedule.start - _TINY:
        cursor = schedule.start - _TINY
    limit = cursor + SEARCH_HORIZON
    while cursor < limit:
        candidate = _raw_next(schedule, cursor, tz)
        if candidate is None or (schedule.until is not None and candidate > schedule.until):
            return None
        local_day = candidate.astimezone(tz).date()
        if day_allowed(local_day, schedule.days):
            return candidate.astimezone(UTC)
        # Skip the rest of a rejected day at once (a minutely cron must not crawl a holiday).
        cursor = datetime.combine(local_day + timedelta(days=1), time(), tz) - _TINY
    return None


def _raw_next(schedule: Schedule, after: datetime, tz: tzinfo) -> datetime | None:
    """The rule's next time strictly after `after`, ignoring the day filter and `until`."""
    local_after = after.astimezone(tz)
    if schedule.kind == "cron":
        assert schedule.cron is not None
        try:
            result: datetime = croniter(schedule.cron, local_after).get_next(datetime)
        except CroniterBadDateError:  # e.g. "0 9 30 2 *": February 30th never comes
            return None
        return result
    assert schedule.rrule is not None
    assert schedule.start is not None
    found: datetime | None = _rule(schedule.rrule, schedule.start.astimezone(tz)).after(
        local_after, inc=False
    )
    return found


def fire_times(
    schedule: Schedule, start: datetime, end: datetime, tz: tzinfo, *, limit: int = 1000
) -> list[datetime]:
    """Fire times in [start, end), oldest first, at most `limit` of them (UTC)."""
    return list(_iterate(schedule, start, end, tz, limit))


def _iterate(
    schedule: Schedule, start: datetime, end: datetime, tz: tzinfo, limit: int
) -> Iterator[datetime]:
    found = 0
    current = next_fire(schedule, start, tz, inclusive=True)
    while current is not None and current < end and found < limit:
        yield current
        found += 1
        if not schedule.recurring:
            return
        current = next_fire(schedule, current, tz, inclusive=False)


# -- the holiday calendar ------------------------------------------------------------------
def day_allowed(day: date, days: DayFilter) -> bool:
    """Whether a post with this day filter may fire on `day` (a local calendar date)."""
    if days is DayFilter.ALL:
        return True
    if days is DayFilter.SKIP_HOLIDAYS:
        return not is_public_holiday(day)
    return is_workday(day)


def is_public_holiday(day: date) -> bool:
    """A statutory public holiday day off (ordinary weekends do not count)."""
    if not holiday_data_covers(day):
        _no_data(day.year)
        return False
    on_holiday, name = chinese_calendar.get_holiday_detail(day)
    return bool(on_holiday and name is not None)


def is_workday(day: date) -> bool:
    """An official workday: Monday–Friday except holidays, plus 调休 make-up weekend days."""
    if not holiday_data_covers(day):
        _no_data(day.year)
        return day.weekday() < SATURDAY
    return bool(chinese_calendar.is_workday(day))


@lru_cache(maxsize=64)
def _no_data(year: int) -> None:
    """Warn once per year and process: chinese_calendar needs an update for that year."""
    log.warning("no holiday data for %s: upgrade chinese-calendar", year)


@lru_cache(maxsize=1)
def _years_with_data() -> frozenset[int]:
    # The package publishes each year's holidays and make-up days as it becomes official.
    published = {*chinese_calendar.holidays, *chinese_calendar.workdays}
    return frozenset(day.year for day in published)


def holiday_data_covers(day: date) -> bool:
    """Whether chinese_calendar has published data for `day`'s year (for preview warnings)."""
    return day.year in _years_with_data()
