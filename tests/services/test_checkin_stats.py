"""Check-in statistics per community day: check-ins, members present, rate."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.services.checkin_stats import daily_stats
from tests.conftest import SHANGHAI
from tests.points_helpers import check_in, in_tx, seed_member

Factory = sessionmaker[Session]


def test_daily_counts_and_rates(session_factory: Factory, clock: FixedClock) -> None:
    members = [seed_member(session_factory, clock.now(), user=f"u-{n}") for n in range(4)]
    other = seed_member(session_factory, clock.now(), user="u-x", chat="g-002")
    for member in members[:3]:
        check_in(session_factory, clock, *member)
    check_in(session_factory, clock, *other)
    clock.advance(days=1)
    check_in(session_factory, clock, *members[0])
    chat_pk = members[0][1]
    day = date(2026, 11, 23)

    group = in_tx(
        session_factory,
        lambda s: daily_stats(
            s, chat_pk=chat_pk, since=day - timedelta(days=1), until=day + timedelta(days=1),
            tz=SHANGHAI,
        ),
    )  # fmt: skip
    community = in_tx(
        session_factory,
        lambda s: daily_stats(s, chat_pk=None, since=day, until=day, tz=SHANGHAI),
    )

    assert [(r.day.isoformat(), r.checkins, r.members, r.rate) for r in group] == [
        ("2026-11-22", 0, 0, 0.0),  # nobody had arrived yet
        ("2026-11-23", 3, 4, 0.75),
        ("2026-11-24", 1, 4, 0.25),
    ]
    assert [(r.checkins, r.members, r.rate) for r in community] == [(4, 5, 0.8)]
