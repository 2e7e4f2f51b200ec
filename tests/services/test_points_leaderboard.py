"""排行榜: week/month/all-time boards, group scope, ties, and the asker's own place."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.services.points_leaderboard import Board, Period, leaderboard, period_start
from tests.conftest import SHANGHAI
from tests.points_helpers import apply, in_tx, seed_member

Factory = sessionmaker[Session]


def _board(
    factory: Factory, clock: FixedClock, period: Period, member_pk: int, chat_pk: int | None
) -> Board:
    return in_tx(
        factory,
        lambda s: leaderboard(
            s, period=period, member_pk=member_pk, chat_pk=chat_pk, now=clock.now(), tz=SHANGHAI
        ),
    )


def test_periods_start_monday_and_the_first_in_community_time() -> None:
    sunday_night = datetime(2026, 11, 29, 23, 30, tzinfo=SHANGHAI)

    assert period_start("week", sunday_night, SHANGHAI) == datetime(2026, 11, 23, tzinfo=SHANGHAI)
    assert period_start("month", sunday_night, SHANGHAI) == datetime(2026, 11, 1, tzinfo=SHANGHAI)
    assert period_start("all", sunday_night, SHANGHAI) is None


def test_boards_rank_by_points_earned_in_the_period(
    session_factory: Factory, clock: FixedClock
) -> None:
    a, chat = seed_member(session_factory, clock.now(), user="u-a", name="阿青")
    b, _ = seed_member(session_factory, clock.now(), user="u-b", name="木木")
    clock.set(datetime(2026, 11, 2, 10, tzinfo=SHANGHAI))  # earlier this month, last weeks
    apply(session_factory, clock, a, 100, "old")
    clock.set(datetime(2026, 11, 24, 10, tzinfo=SHANGHAI))
    apply(session_factory, clock, b, 30, "new")
    apply(session_factory, clock, b, -20, "spend", reason="redeem")  # spending keeps the place

    week = _board(session_factory, clock, "week", a, chat)
    month = _board(session_factory, clock, "month", a, chat)

    assert [(s.name, s.points) for s in week.top] == [("木木", 30)]
    assert week.me is None
    assert [(s.rank, s.name, s.points) for s in month.top] == [(1, "阿青", 100), (2, "木木", 30)]
    assert month.me is not None
    assert month.me.rank == 1


def test_top_ten_ties_and_my_place_beyond_the_top(
    session_factory: Factory, clock: FixedClock
) -> None:
    members = [seed_member(session_factory, clock.now(), user=f"u-{n}") for n in range(12)]
    for n, (member_pk, _) in enumerate(members):
        apply(session_factory, clock, member_pk, 100 - n * 5 if n != 2 else 95, f"k{n}")
    me, chat = members[-1]

    board = _board(session_factory, clock, "all", me, chat)

    assert len(board.top) == 10
    assert [s.rank for s in board.top[:4]] == [1, 2, 2, 4]  # u-1 and u-2 share 95
    assert board.me is not None
    assert (board.me.rank, board.me.points) == (12, 45)


def test_a_group_board_shows_only_that_groups_members(
    session_factory: Factory, clock: FixedClock
) -> None:
    here, chat = seed_member(session_factory, clock.now(), user="u-here")
    there, _ = seed_member(session_factory, clock.now(), user="u-there", chat="g-002")
    apply(session_factory, clock, here, 10, "k1")
    apply(session_factory, clock, there, 50, "k2")

    group = _board(session_factory, clock, "all", here, chat)
    everyone = _board(session_factory, clock, "all", here, None)

    assert [s.member_pk for s in group.top] == [here]
    assert [s.member_pk for s in everyone.top] == [there, here]
