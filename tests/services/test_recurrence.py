"""Fire times: cron and RRULE in Asia/Shanghai, month ends, holidays and workdays, validation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.services.recurrence import (
    DayFilter,
    Schedule,
    day_allowed,
    fire_times,
    holiday_data_covers,
    is_public_holiday,
    is_workday,
    make_schedule,
    next_fire,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=SHANGHAI)


def _local(times: list[datetime]) -> list[str]:
    return [t.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") for t in times]


def _schedule(**kwargs: object) -> Schedule:
    return make_schedule(tz=SHANGHAI, now=NOW, **kwargs)  # type: ignore[arg-type]


def test_weekly_cron_fires_at_local_time_and_is_stored_in_utc() -> None:
    schedule = _schedule(cron="0 9 * * 1")

    times = fire_times(schedule, NOW, NOW + timedelta(days=21), SHANGHAI)

    assert _local(times) == ["2026-11-30 09:00", "2026-12-07 09:00", "2026-12-14 09:00"]
    assert times[0].tzinfo == UTC
    assert times[0].hour == 1  # 09:00 +08:00


def test_shanghai_has_no_dst_jump_all_year() -> None:
    schedule = _schedule(cron="0 9 1 * *")

    times = fire_times(schedule, NOW, NOW + timedelta(days=400), SHANGHAI)

    assert len(times) == 13
    assert {t.astimezone(SHANGHAI).utcoffset() for t in times} == {timedelta(hours=8)}
    assert {t.astimezone(SHANGHAI).hour for t in times} == {9}


def test_cron_last_day_of_month_handles_february_in_a_leap_year() -> None:
    schedule = make_schedule(
        tz=SHANGHAI, now=datetime(2028, 1, 10, tzinfo=SHANGHAI), cron="0 20 L * *"
    )

    times = fire_times(
        schedule,
        datetime(2028, 1, 10, tzinfo=SHANGHAI),
        datetime(2028, 5, 1, tzinfo=SHANGHAI),
        SHANGHAI,
    )

    assert _local(times) == [
        "2028-01-31 20:00",
        "2028-02-29 20:00",
        "2028-03-31 20:00",
        "2028-04-30 20:00",
    ]


def test_cron_on_the_31st_skips_shorter_months() -> None:
    schedule = _schedule(cron="0 9 31 * *")

    times = fire_times(schedule, NOW, datetime(2027, 6, 1, tzinfo=SHANGHAI), SHANGHAI)

    assert _local(times) == [
        "2026-12-31 09:00",
        "2027-01-31 09:00",
        "2027-03-31 09:00",
        "2027-05-31 09:00",
    ]


def test_rrule_last_day_of_month() -> None:
    schedule = make_schedule(
        tz=SHANGHAI,
        now=datetime(2027, 1, 1, tzinfo=SHANGHAI),
        rule="FREQ=MONTHLY;BYMONTHDAY=-1;BYHOUR=18;BYMINUTE=0",
    )

    times = fire_times(
        schedule,
        datetime(2027, 1, 1, tzinfo=SHANGHAI),
        datetime(2027, 4, 1, tzinfo=SHANGHAI),
        SHANGHAI,
    )

    assert _local(times) == ["2027-01-31 18:00", "2027-02-28 18:00", "2027-03-31 18:00"]


def test_rrule_weekly_with_interval_counts_from_its_start() -> None:
    schedule = _schedule(
        rule="RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=FR;BYHOUR=20;BYMINUTE=0",
        start=datetime.fromisoformat("2026-11-23T00:00"),  # naive = community time
    )

    times = fire_times(schedule, NOW, NOW + timedelta(days=30), SHANGHAI)

    assert _local(times) == ["2026-11-27 20:00", "2026-12-11 20:00"]


def test_rrule_count_and_until_bound_the_series() -> None:
    counted = _schedule(rule="FREQ=DAILY;COUNT=3;BYHOUR=8;BYMINUTE=0")
    bounded = _schedule(cron="0 8 * * *", until=datetime.fromisoformat("2026-11-26T08:00"))

    assert len(fire_times(counted, NOW, NOW + timedelta(days=30), SHANGHAI)) == 3
    assert _local(fire_times(bounded, NOW, NOW + timedelta(days=30), SHANGHAI)) == [
        "2026-11-24 08:00",
        "2026-11-25 08:00",
        "2026-11-26 08:00",
    ]


def test_skip_holidays_leaves_out_festivals_but_keeps_ordinary_weekends() -> None:
    start = datetime(2026, 9, 12, tzinfo=SHANGHAI)
    schedule = make_schedule(
        tz=SHANGHAI, now=start, cron="0 10 * * *", days=DayFilter.SKIP_HOLIDAYS
    )

    times = fire_times(schedule, start, datetime(2026, 10, 12, tzinfo=SHANGHAI), SHANGHAI)
    days = [t.astimezone(SHANGHAI).date() for t in times]

    assert date(2026, 9, 13) in days  # an ordinary Sunday
    assert not any(date(2026, 9, 25) <= d <= date(2026, 9, 27) for d in days)  # 中秋
    assert not any(date(2026, 10, 1) <= d <= date(2026, 10, 7) for d in days)  # 国庆
    assert date(2026, 10, 8) in days


def test_workdays_only_includes_make_up_workdays_and_skips_holidays() -> None:
    start = datetime(2025, 9, 26, tzinfo=SHANGHAI)
    schedule = make_schedule(tz=SHANGHAI, now=start, cron="30 9 * * *", days="workdays")

    times = fire_times(schedule, start, datetime(2025, 10, 13, tzinfo=SHANGHAI), SHANGHAI)
    days = [t.astimezone(SHANGHAI).date() for t in times]

    assert date(2025, 9, 28) in days  # Sunday, a 调休 make-up workday
    assert date(2025, 10, 11) in days  # Saturday, a make-up workday
    assert date(2025, 10, 1) not in days
    assert date(2025, 10, 8) not in days
    assert date(2025, 10, 12) not in days  # an ordinary Sunday


def test_minutely_schedule_skips_a_whole_holiday_week_quickly() -> None:
    start = datetime(2026, 9, 30, 23, 58, tzinfo=SHANGHAI)
    schedule = make_schedule(tz=SHANGHAI, now=start, cron="* * * * *", days="skip_holidays")

    after = next_fire(schedule, datetime(2026, 10, 1, tzinfo=SHANGHAI), SHANGHAI)

    assert after is not None
    assert _local([after]) == ["2026-10-08 00:00"]


def test_calendar_helpers_and_years_without_data() -> None:
    assert is_public_holiday(date(2026, 2, 17))  # Spring Festival
    assert not is_public_holiday(date(2026, 2, 14))  # make-up workday (a Saturday)
    assert is_workday(date(2026, 2, 14))
    assert not holiday_data_covers(date(2031, 1, 1))
    assert not is_public_holiday(date(2031, 10, 1))  # no data: nothing is a holiday
    assert is_workday(date(2031, 1, 6))
    assert not is_workday(date(2031, 1, 4))
    assert day_allowed(date(2026, 10, 1), DayFilter.ALL)


def test_one_off_fires_once_and_round_trips_through_storage() -> None:
    schedule = _schedule(at=datetime.fromisoformat("2026-12-01T09:00"))  # local 09:00

    stored = Schedule.from_dict(schedule.to_dict())

    assert stored == schedule
    assert _local(fire_times(stored, NOW, NOW + timedelta(days=30), SHANGHAI)) == [
        "2026-12-01 09:00"
    ]
    assert next_fire(stored, stored.at, SHANGHAI, inclusive=False) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one"),
        ({"cron": "0 9 * *"}, "five fields"),
        ({"cron": "0 0 9 * * 1"}, "five fields"),
        ({"cron": "61 9 * * *"}, "not a valid cron"),
        ({"rule": "FREQ=SOMETIMES"}, "not a valid RRULE"),
        ({"rule": "FREQ=SECONDLY"}, "every second"),
        ({"rule": "DTSTART:20260101T000000\nRRULE:FREQ=DAILY"}, "one RRULE line"),
        ({"cron": "0 9 * * *", "days": "weekends"}, "schedule.days"),
        ({"cron": "0 9 30 2 *"}, "never fires"),
        ({"cron": "0 9 * * *", "until": datetime.fromisoformat("2026-01-01")}, "until"),
        ({"at": NOW, "cron": "0 9 * * *"}, "exactly one"),
    ],
)
def test_bad_schedules_are_refused_with_a_reason(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _schedule(**kwargs)
