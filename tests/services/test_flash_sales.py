"""Flash-sale claims: timing, idempotency, limits, eligibility, points, and never oversold under
2,000 concurrent claims (real threads, real database — SQLite and PostgreSQL)."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.db.models import (
    ChatMember,
    FlashSaleItem,
    FlashSaleOrder,
    FlashSaleWaitlist,
    ModerationBlacklist,
    OutboxRow,
    PointsAccount,
)
from app.db.session import make_engine, make_session_factory, transaction
from app.services.flash_sale_reports import block
from app.services.flash_sales import ClaimResult
from tests.flash_sale_helpers import (
    START,
    assert_never_oversold,
    claim,
    create_sale,
    item,
    orders,
    run_together,
    seed_members,
    stock_of,
)
from tests.points_helpers import apply, balance

Factory = sessionmaker[Session]


@pytest.fixture
def group(session_factory: Factory, clock: FixedClock) -> tuple[int, list[int]]:
    return seed_members(session_factory, clock.now(), 5)


def test_a_claim_one_second_before_the_start_is_rejected_and_never_queues(
    session_factory: Factory, clock: FixedClock, group: tuple[int, list[int]]
) -> None:
    chat, members = group
    sale = create_sale(session_factory, clock, [chat])
    clock.set(START - timedelta(seconds=1))

    result = claim(session_factory, clock, members[0], chat)

    assert result.status == "not_started"
    assert orders(session_factory, sale) == []
    assert stock_of(session_factory, sale) == 100
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(FlashSaleWaitlist)) == 0


def test_a_message_sent_before_the_start_but_processed_after_is_still_early(
    session_factory: Factory, clock: FixedClock, group: tuple[int, list[int]]
) -> None:
    chat, members = group
    create_sale(session_factory, clock, [chat])
    clock.set(START + timedelta(seconds=2))

    early = claim(session_factory, clock, members[0], chat, at=START - timedelta(seconds=1))

    assert early.status == "not_started"


def test_a_claim_at_the_start_takes_one_unit_with_a_payment_deadline(
    session_factory: Factory, clock: FixedClock, group: tuple[int, list[int]]
) -> None:
    chat, members = group
    sale = create_sale(session_factory, clock, [chat], [item(3, stock=10)])
    clock.set(START)

    result = claim(session_factory, clock, members[0], chat, 3, key="m-1")

    assert result.status == "claimed"
    assert result.left == 9
    assert result.order is not None
    assert result.order.status == "pending"
    assert result.order.pay_deadline == START + timedelta(minutes=15)
    assert stock_of(session_factory, sale, 3) == 9
    assert_never_oversold(session_factory, sale)


def test_retries_of_the_same_message_claim_once(
    session_factory: Factory, clock: FixedClock, group: tuple[int, list[int]]
) -> None:
    chat, members = group
    sale = create_sale(session_factory, clock, [chat], [item(1, per_member_limit=5)])
    clock.set(START)

    first = claim(session_factory, clock, members[0], chat, key="bridge:msg-1")
    again = claim(session_factory, clock, members[0], chat, key="bridge:msg-1")

    assert first.status == "claimed"
    assert again.status == "duplicate"
    assert again.order is not None
    assert first.order is not None
    assert again.order.id == first.order.id
    assert len(orders(session_factory, sale)) == 1
    assert stock_of(session_factory, sale) == 99


def test_concurrent_retries_of_one_message_claim_once(
    db_url: str, session_factory: Factory, clock: FixedClock, group: tuple[int, list[int]]
) -> None:
    chat, members = group
    sale = create_sale(session_factory, clock, [chat], [item(1, per_member_limit=5)])
    clock.set(START)
    engine = make_engine(db_url, pool_size=8)
    factory = make_session_factory(engine)
    try:
        results = run_together(
            ["same"] * 8, 8, lambda key: claim(factory, clock, members[0], chat, key=key)
        )
    finally:
        engine.dispose()

    assert sorted(r.status for r in results) == ["claimed"] + ["duplicate"] * 7
    assert len(orders(session_factory, sale)) == 1
    assert_never_oversold(session_factory, sale)


def test_the_per_member_limit_holds(
    session_factory: Factory, clock: FixedClock, group: tuple[int, list[int]]
) -> None:
    chat, members = group
    sale = create_sale(session_factory, clock, [chat], [item(1, per_member_limit=2)])
    clock.set(START)

    results = [claim(session_factory, clock, members[0], chat, key=f"k{i}") for i in range(3)]

    assert [r.status for r in results] == ["claimed", "claimed", "over_limit"]
    assert results[2].held == 2
    assert stock_of(session_factory, sale) == 98


def test_sold_out_claims_join_the_waitlist_in_order(
    session_factory: Factory, clock: FixedClock, group: tuple[int, list[int]]
) -> None:
    chat, members = group
    sale = create_sale(session_factory, clock, [chat], [item(1, stock=1)])
    clock.set(START)

    results = [claim(session_factory, clock, m, chat, key=f"k{m}") for m in members[:3]]
    again = claim(session_factory, clock, members[2], chat, key="again")

    assert [r.status for r in results] == ["claimed", "waitlisted", "waitlisted"]
    assert [r.position for r in results[1:]] == [1, 2]
    assert again.position == 2
    assert stock_of(session_factory, sale) == 0


def test_a_used_waitlist_place_is_not_given_again_and_moves_the_others_up(
    session_factory: Factory, clock: FixedClock, group: tuple[int, list[int]]
) -> None:
    chat, members = group
    create_sale(session_factory, clock, [chat], [item(1, stock=1)])
    clock.set(START)
    claim(session_factory, clock, members[0], chat, key="k0")
    claim(session_factory, clock, members[1], chat, key="k1")
    claim(session_factory, clock, members[2], chat, key="k2")
    with transaction(session_factory) as session:
        session.execute(
            update(FlashSaleWaitlist)
            .where(FlashSaleWaitlist.member_id == members[1])
            .values(status="offered")
        )

    offered_again = claim(session_factory, clock, members[1], chat, key="k1-again")
    behind = claim(session_factory, clock, members[2], chat, key="k2-again")
    newcomer = claim(session_factory, clock, members[3], chat, key="k3")

    assert (offered_again.status, offered_again.position) == ("sold_out", 0)
    assert (behind.status, behind.position) == ("waitlisted", 1)
    assert (newcomer.status, newcomer.position) == ("waitlisted", 2)


def test_without_a_waitlist_a_sold_out_claim_is_just_sold_out(
    session_factory: Factory, clock: FixedClock, group: tuple[int, list[int]]
) -> None:
    chat, members = group
    create_sale(session_factory, clock, [chat], [item(1, stock=1)], waitlist=False)
    clock.set(START)

    claim(session_factory, clock, members[0], chat)
    late = claim(session_factory, clock, members[1], chat)

    assert late.status == "sold_out"


def test_thresholds_and_sold_out_are_announced_once_in_every_group(
    session_factory: Factory, clock: FixedClock
) -> None:
    chat_a, members = seed_members(session_factory, clock.now(), 5, chat="g-a")
    chat_b, _ = seed_members(session_factory, clock.now(), 1, chat="g-b", prefix="b")
    sale = create_sale(session_factory, clock, [chat_a, chat_b], [item(1, stock=4)])
    clock.set(START)

    for m in members:
        claim(session_factory, clock, m, chat_a, key=f"k{m}")

    with session_factory() as session:
        keys = sorted(session.scalars(select(OutboxRow.idempotency_key)))
    expected = [
        f"flash:{sale}:1:{event}:{chat}"
        for event in ("left:3", "soldout")
        for chat in (chat_a, chat_b)
    ]
    assert keys == sorted(expected)


@pytest.mark.parametrize("rule", ["blocked", "level", "joined"])
def test_ineligible_members_are_refused(
    rule: str, session_factory: Factory, clock: FixedClock, group: tuple[int, list[int]]
) -> None:
    chat, members = group
    options: dict[str, object] = {
        "blocked": {},
        "level": {"min_level": 2},
        "joined": {"joined_before": clock.now() - timedelta(days=1)},
    }[rule]  # type: ignore[assignment]
    sale = create_sale(session_factory, clock, [chat], **options)  # type: ignore[arg-type]
    if rule == "blocked":
        with transaction(session_factory) as session:
            block(session, members[0], reason="转卖", by="admin", now=clock.now())
    clock.set(START)

    result = claim(session_factory, clock, members[0], chat)

    assert result.status == "not_eligible"
    assert result.reason == rule
    assert orders(session_factory, sale) == []


def test_the_community_blacklist_bars_members_until_lifted(
    session_factory: Factory, clock: FixedClock, group: tuple[int, list[int]]
) -> None:
    chat, members = group
    create_sale(session_factory, clock, [chat])
    with transaction(session_factory) as session:
        entry = ModerationBlacklist(
            member_id=members[0], reason="广告", created_at=clock.now(), created_by="admin"
        )
        session.add(entry)
    clock.set(START)

    barred = claim(session_factory, clock, members[0], chat, key="a")
    with transaction(session_factory) as session:
        session.execute(update(ModerationBlacklist).values(lifted_at=clock.now()))
    allowed = claim(session_factory, clock, members[0], chat, key="b")

    assert (barred.status, barred.reason) == ("not_eligible", "blocked")
    assert allowed.status == "claimed"


def test_eligible_members_pass_level_and_join_date(
    session_factory: Factory, clock: FixedClock, group: tuple[int, list[int]]
) -> None:
    chat, members = group
    with transaction(session_factory) as session:
        session.execute(
            update(ChatMember)
            .where(ChatMember.member_id == members[0])
            .values(joined_at=clock.now() - timedelta(days=30))
        )
    apply(session_factory, clock, members[0], 150, "earned-150")  # Lv2 from 100 earned
    create_sale(
        session_factory, clock, [chat], min_level=2, joined_before=clock.now() - timedelta(days=1)
    )
    clock.set(START)

    assert claim(session_factory, clock, members[0], chat).status == "claimed"


def test_a_points_priced_item_deducts_points_with_the_claim(
    session_factory: Factory, clock: FixedClock, group: tuple[int, list[int]]
) -> None:
    chat, members = group
    sale = create_sale(
        session_factory, clock, [chat], [item(2, stock=5, price_cents=0, points_price=40)]
    )
    apply(session_factory, clock, members[0], 50, "gift")
    clock.set(START)

    won = claim(session_factory, clock, members[0], chat, 2, key="a")
    poor = claim(session_factory, clock, members[0], chat, 2, key="b")

    assert won.status == "claimed"
    assert won.order is not None
    assert won.order.status == "paid"  # nothing left to pay
    assert won.balance == 10
    assert poor.status == "over_limit"
    assert balance(session_factory, members[0]) == 10
    assert stock_of(session_factory, sale, 2) == 4


def test_not_enough_points_changes_nothing(
    session_factory: Factory, clock: FixedClock, group: tuple[int, list[int]]
) -> None:
    chat, members = group
    sale = create_sale(
        session_factory, clock, [chat], [item(2, stock=5, price_cents=0, points_price=40)]
    )
    apply(session_factory, clock, members[0], 30, "gift")
    clock.set(START)

    result = claim(session_factory, clock, members[0], chat, 2)

    assert result.status == "insufficient_points"
    assert result.balance == 30
    assert orders(session_factory, sale) == []
    assert stock_of(session_factory, sale, 2) == 5
    assert balance(session_factory, members[0]) == 30


def test_concurrent_points_claims_never_overdraw(
    db_url: str, session_factory: Factory, clock: FixedClock, group: tuple[int, list[int]]
) -> None:
    chat, members = group
    sale = create_sale(
        session_factory,
        clock,
        [chat],
        [item(1, stock=50, price_cents=1000, points_price=10, per_member_limit=20)],
    )
    apply(session_factory, clock, members[0], 35, "gift")
    clock.set(START)
    engine = make_engine(db_url, pool_size=10)
    factory = make_session_factory(engine)
    try:
        results = run_together(
            [f"k{i}" for i in range(20)],
            10,
            lambda key: claim(factory, clock, members[0], chat, key=key),
        )
    finally:
        engine.dispose()

    statuses = [r.status for r in results]
    assert statuses.count("claimed") == 3
    assert statuses.count("insufficient_points") == 17
    assert balance(session_factory, members[0]) == 5
    with session_factory() as session:
        assert session.scalar(select(func.min(PointsAccount.balance))) == 5
    assert stock_of(session_factory, sale) == 47
    assert_never_oversold(session_factory, sale)


def test_other_numbers_ended_sales_and_other_groups(
    session_factory: Factory, clock: FixedClock, group: tuple[int, list[int]]
) -> None:
    chat, members = group
    other_chat, _ = seed_members(session_factory, clock.now(), 1, chat="g-other", prefix="o")
    create_sale(session_factory, clock, [chat], [item(1), item(4)])
    clock.set(START)

    unknown = claim(session_factory, clock, members[0], chat, 9)
    elsewhere = claim(session_factory, clock, members[0], other_chat, 1)
    clock.set(START + timedelta(hours=2))
    ended = claim(session_factory, clock, members[0], chat, 1)

    assert (unknown.status, unknown.numbers, unknown.requested) == ("unknown_item", (1, 4), 9)
    assert elsewhere.status == "no_sale"
    assert ended.status == "ended"


def test_the_database_refuses_negative_stock(
    session_factory: Factory, clock: FixedClock, group: tuple[int, list[int]]
) -> None:
    chat, _ = group
    sale = create_sale(session_factory, clock, [chat])

    with pytest.raises(IntegrityError), transaction(session_factory) as session:
        session.execute(
            update(FlashSaleItem).where(FlashSaleItem.sale_id == sale).values(stock=-1)
        )

    assert stock_of(session_factory, sale) == 100


def _claims_of_1000_members(chat: int, members: list[int]) -> list[tuple[int, str]]:
    work = [(m, f"{m}:{tap}") for m in members for tap in ("a", "b")]
    random.Random(6).shuffle(work)
    return work


def test_2000_concurrent_claims_from_1000_members_take_exactly_100_units(
    db_url: str, session_factory: Factory, clock: FixedClock, is_postgres: bool
) -> None:
    chat, members = seed_members(session_factory, clock.now(), 1000)
    sale = create_sale(session_factory, clock, [chat], [item(1, stock=100, per_member_limit=1)])
    clock.set(START)
    threads = 16
    engine = make_engine(db_url, pool_size=threads)
    factory = make_session_factory(engine)

    def one(work: tuple[int, str]) -> ClaimResult:
        return claim(factory, clock, work[0], chat, 1, key=work[1])

    try:
        results = run_together(_claims_of_1000_members(chat, members), threads, one)
    finally:
        engine.dispose()

    claimed = [r for r in results if r.status == "claimed"]
    assert len(claimed) == 100
    assert {r.status for r in results} <= {"claimed", "waitlisted", "over_limit"}
    winners = [o.member_id for o in orders(session_factory, sale)]
    assert len(winners) == len(set(winners)) == 100
    assert stock_of(session_factory, sale) == 0
    assert sorted(r.left or 0 for r in claimed) == list(range(100))  # each unit once, 99 → 0
    assert_never_oversold(session_factory, sale)
    with session_factory() as session:
        dialect = session.get_bind().dialect.name
        assert dialect == ("postgresql" if is_postgres else "sqlite")
        assert session.scalar(text("SELECT count(*) FROM flash_sale_orders")) == 100


def _orders_by_member(factory: Factory, sale: int) -> dict[int, int]:
    with factory() as session:
        rows = session.execute(
            select(FlashSaleOrder.member_id, func.count())
            .where(FlashSaleOrder.sale_id == sale)
            .group_by(FlashSaleOrder.member_id)
        ).all()
    return {int(m): int(n) for m, n in rows}


def test_concurrent_double_clicks_respect_a_limit_of_two(
    db_url: str, session_factory: Factory, clock: FixedClock
) -> None:
    chat, members = seed_members(session_factory, clock.now(), 50)
    sale = create_sale(session_factory, clock, [chat], [item(1, stock=500, per_member_limit=2)])
    clock.set(START)
    work = [(m, f"{m}:{tap}") for m in members for tap in range(5)]
    engine = make_engine(db_url, pool_size=10)
    factory = make_session_factory(engine)
    try:
        run_together(work, 10, lambda w: claim(factory, clock, w[0], chat, key=w[1]))
    finally:
        engine.dispose()

    assert set(_orders_by_member(session_factory, sale).values()) == {2}
    assert stock_of(session_factory, sale) == 400
    assert_never_oversold(session_factory, sale)
