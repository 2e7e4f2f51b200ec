"""ModerationService: ladders (thresholds, windows, expiry), actions, overturning, blacklist,
idempotency under a retried message, and concurrent workers (PostgreSQL)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from app.clock import FixedClock
from app.db.models import (
    ModerationBlacklist,
    ModerationCase,
    ModerationTask,
    OutboxRow,
    PointsEntry,
)
from app.db.session import make_engine, make_session_factory
from app.messages import Kind, Role
from app.runtime import Runtime
from app.services import Services
from app.services.moderation_config import ModerationError
from tests.moderation.db_helpers import (
    WECOM_GROUP,
    cases,
    in_services,
    member_pk,
    message,
    moderate,
    moderate_in,
    outbox,
    put_scope,
    say,
)

AD = "大家好加微信领福利"


def _ledger(runtime: Runtime) -> list[tuple[str, int]]:
    with runtime.deps.session_factory() as session:
        rows = session.scalars(select(PointsEntry).order_by(PointsEntry.id)).all()
    return [(row.reason, row.delta) for row in rows]


def _balance(runtime: Runtime, user_id: str = "u-001") -> int:
    pk = member_pk(runtime, user_id)
    return in_services(runtime, lambda s: s.points.account(pk).balance)


def _give_points(runtime: Runtime, clock: FixedClock, points: int) -> None:
    say(runtime, clock, "你好")  # the member exists now
    pk = member_pk(runtime)
    in_services(runtime, lambda s: s.points.apply(pk, points, "campaign", "test:seed"))


def test_the_strict_ladder_escalates_to_removal_and_blacklist(
    runtime: Runtime, clock: FixedClock
) -> None:
    first = say(runtime, clock, AD)
    clock.advance(days=1)
    second = say(runtime, clock, AD)
    clock.advance(days=1)
    third = say(runtime, clock, AD)

    assert [case.actions for case in cases(runtime)] == [
        ["warn", "notify_admins"],
        ["notify_admins", "request_removal"],
        ["notify_admins", "request_removal", "blacklist"],
    ]
    assert [len(d.replies) for d in (first, second, third)] == [1, 0, 0]
    removals = outbox(runtime, "moderation:remove:")
    assert [(r.channel, r.kind, r.target) for r in removals] == [("bridge", "action", "g-001")] * 2
    assert removals[0].extras["action"] == "remove_member"
    assert removals[0].extras["user_id"] == "u-001"
    assert removals[0].extras["reason"].startswith("违规记录 #2")
    notices = outbox(runtime, "moderation:notify:case:")
    assert len(notices) == 3
    assert "原文：大家好加微信领福利" in notices[0].text
    with runtime.deps.session_factory() as session:
        assert len(session.scalars(select(ModerationBlacklist)).all()) == 1


def test_three_in_seven_days_requests_removal_but_spread_out_does_not(
    runtime: Runtime, clock: FixedClock
) -> None:
    def three_mini_programs(user: str, days_apart: float) -> list[list[str]]:
        actions = []
        for _ in range(3):
            say(runtime, clock, "", kind=Kind.MINI_PROGRAM, title="拼团", user=user)
            actions.append(cases(runtime)[-1].actions)
            clock.advance(days=days_apart)
        return actions

    quick = three_mini_programs("u-quick", 2)
    spread = three_mini_programs("u-slow", 5)

    assert quick == [["warn"], ["warn"], ["warn", "notify_admins", "request_removal"]]
    assert spread == [["warn"], ["warn"], ["warn"]]  # only 2 within any 7 days


def test_violations_expire(runtime: Runtime, clock: FixedClock) -> None:
    say(runtime, clock, AD)
    clock.advance(days=91)  # the strict ladder forgets after 90 days

    again = say(runtime, clock, AD)

    assert cases(runtime)[-1].actions == ["warn", "notify_admins"]
    assert cases(runtime)[-1].count == 1
    assert len(again.replies) == 1


def test_staff_get_the_evidence_through_the_wecom_app(runtime: Runtime, clock: FixedClock) -> None:
    put_scope(runtime, "defaults", {"settings": {"notify_user_ids": ["ZhangSan", "LiSi"]}})

    say(runtime, clock, AD)

    notices = outbox(runtime, "moderation:notify:")
    assert [(n.channel, n.target) for n in notices] == [
        ("wecom_app", "ZhangSan"),
        ("wecom_app", "LiSi"),
    ]
    assert "规则：banned_words.ad（广告）" in notices[0].text


def test_abuse_deducts_points_through_the_ledger_and_overturn_refunds(
    runtime: Runtime, clock: FixedClock
) -> None:
    _give_points(runtime, clock, 50)
    say(runtime, clock, "煞笔客服")
    (case,) = cases(runtime)
    assert case.points_deducted == 10
    assert _balance(runtime) == 40

    in_services(runtime, lambda s: s.moderation.review.overturn(case.id, by="boss", note="误判"))

    assert _balance(runtime) == 50
    assert _ledger(runtime)[-2:] == [("moderation", -10), ("refund", 10)]
    assert cases(runtime)[0].status == "overturned"
    with pytest.raises(ModerationError, match="already overturned"):
        in_services(runtime, lambda s: s.moderation.review.overturn(case.id, by=None, note=None))
    assert _balance(runtime) == 50  # refunded once


def test_a_deduction_never_overdraws(runtime: Runtime, clock: FixedClock) -> None:
    _give_points(runtime, clock, 4)

    say(runtime, clock, "煞笔客服")

    assert cases(runtime)[0].points_deducted == 4
    assert _balance(runtime) == 0


def test_overturning_lifts_the_blacklist_and_cancels_the_pending_removal(
    runtime: Runtime, clock: FixedClock
) -> None:
    for _ in range(3):
        say(runtime, clock, AD)
        clock.advance(hours=1)
    third = cases(runtime)[-1]

    result = in_services(
        runtime, lambda s: s.moderation.review.overturn(third.id, by="boss", note=None)
    )

    reversal = result[1]
    assert (reversal.blacklist_lifted, reversal.removal) == (1, "cancelled")
    with runtime.deps.session_factory() as session:
        entry = session.scalars(select(ModerationBlacklist)).one()
        removal = session.scalars(
            select(OutboxRow).where(OutboxRow.idempotency_key == f"moderation:remove:{third.id}")
        ).one()
    assert entry.lifted_by == "boss"
    assert removal.status == "dead"
    assert runtime.outbox.drain().sent >= 1  # the other rows still go out


def test_where_a_channel_cannot_remove_an_owner_task_is_opened_and_cancelled_on_overturn(
    runtime: Runtime, clock: FixedClock
) -> None:
    for _ in range(2):
        moderate(runtime, message(AD, clock, chat=WECOM_GROUP, user="ext-1"))
        clock.advance(hours=1)

    with runtime.deps.session_factory() as session:
        task = session.scalars(select(ModerationTask)).one()
    assert (task.kind, task.status) == ("remove_member", "open")
    assert outbox(runtime, "moderation:remove:") == []
    assert len(outbox(runtime, f"moderation:notify:task:{task.id}")) == 1

    in_services(runtime, lambda s: s.moderation.review.overturn(task.case_id, by=None, note=None))

    with runtime.deps.session_factory() as session:
        assert session.get_one(ModerationTask, task.id).status == "cancelled"


def test_a_retried_message_opens_one_case_and_acts_once(
    runtime: Runtime, clock: FixedClock
) -> None:
    _give_points(runtime, clock, 50)
    item = message("煞笔客服", clock)

    first = moderate(runtime, item)
    second = moderate(runtime, item)

    assert first.violation
    assert second.violation
    assert (first.replayed, second.replayed) == (False, True)
    assert first.case_id == second.case_id
    assert second.warning is None
    assert len(cases(runtime)) == 1
    assert [reason for reason, _ in _ledger(runtime)].count("moderation") == 1
    assert _balance(runtime) == 40


def test_a_blacklisted_member_is_removed_on_their_first_message_in_a_chat(
    runtime: Runtime, clock: FixedClock
) -> None:
    say(runtime, clock, "你好", user="u-bad")
    pk = member_pk(runtime, "u-bad")
    in_services(
        runtime, lambda s: s.moderation.actions.blacklist(pk, "骗子", case_id=None, by="t")
    )

    first = say(runtime, clock, "大家好", user="u-bad")
    second = say(runtime, clock, "在吗", user="u-bad")

    assert first.routes == second.routes == ("moderation",)
    assert [(c.rule, c.actions) for c in cases(runtime)] == [
        ("blacklist", ["request_removal"]),
        ("blacklist", ["log"]),
    ]
    assert len(outbox(runtime, "moderation:remove:")) == 1


def test_exempt_members_leave_no_activity_behind(runtime: Runtime, clock: FixedClock) -> None:
    outcome = moderate(runtime, message(AD, clock, role=Role.ADMIN))

    assert outcome.exempt
    assert not outcome.violation
    assert cases(runtime) == []


def _race(runtime: Runtime, db_url: str, items: list[object]) -> list[object]:
    """Moderate each item in its own thread and transaction, all at once."""
    engine = make_engine(db_url, pool_size=len(items))
    factory = make_session_factory(engine)
    barrier = threading.Barrier(len(items), timeout=60)

    def one(item: object) -> object:
        with factory() as session, session.begin():
            services = Services.build(session, runtime.deps)
            services.moderation.config.loaded()  # connection busy before the barrier
            barrier.wait()
            return moderate_in(services, item)  # type: ignore[arg-type]

    try:
        with ThreadPoolExecutor(max_workers=len(items)) as pool:
            return list(pool.map(one, items))
    finally:
        engine.dispose()


@pytest.mark.postgres_only
def test_concurrent_violations_of_one_member_climb_the_ladder_one_step_each(
    runtime: Runtime, clock: FixedClock, db_url: str
) -> None:
    say(runtime, clock, "你好")  # the member and chat exist before the race

    _race(runtime, db_url, [message(AD, clock), message(AD, clock)])

    assert sorted(case.count for case in cases(runtime)) == [1, 2]


@pytest.mark.postgres_only
def test_the_same_message_in_two_workers_opens_one_case(
    runtime: Runtime, clock: FixedClock, db_url: str
) -> None:
    say(runtime, clock, "你好")
    item = message(AD, clock)

    outcomes = _race(runtime, db_url, [item, item])

    assert len(cases(runtime)) == 1
    assert sorted(o.replayed for o in outcomes) == [False, True]  # type: ignore[attr-defined]
    assert len(outbox(runtime, "moderation:notify:")) == 1


def test_case_rows_keep_the_evidence(runtime: Runtime, clock: FixedClock) -> None:
    say(runtime, clock, "想要资料的 加 微 信 我发你")

    with runtime.deps.session_factory() as session:
        case = session.scalars(select(ModerationCase)).one()
    assert case.normalized == "想要资料的加微信我发你"
    assert case.text[case.start : case.end] == "加 微 信"
    assert case.hits[0]["rule"] == "banned_words.ad"
    assert case.ladder == "strict"
