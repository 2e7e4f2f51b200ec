"""A batch's claims taken together (`claim_later` + `flush`): decided in message order, nothing
written for a refusal, and never oversold when batches run at once."""

from __future__ import annotations

import itertools

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.db.models import FlashSaleHolding, FlashSaleItem, FlashSaleOrder, FlashSaleWaitlist
from app.services.flash_sales import ClaimResult
from tests.flash_sale_helpers import (
    START,
    assert_never_oversold,
    create_sale,
    item,
    orders,
    seed_members,
    service,
    stock_of,
)
from tests.points_helpers import in_tx, race
from tests.statements import statements

Factory = sessionmaker[Session]


def _batch(
    session: Session, clock: FixedClock, chat: int, claims: list[tuple[int, str]]
) -> list[str]:
    """Claim item 1 for each (member, key) in one batch; the statuses in claim order."""
    return [result.status for result in _batch_results(session, clock, chat, claims)]


def _batch_results(
    session: Session, clock: FixedClock, chat: int, claims: list[tuple[int, str]]
) -> list[ClaimResult]:
    """Claim item 1 for each (member, key) in one batch; the results in claim order."""
    flash = service(session, clock)
    answered: list[tuple[int, ClaimResult]] = []
    for index, (member, key) in enumerate(claims):

        def then(result: ClaimResult, index: int = index) -> None:
            answered.append((index, result))

        flash.claim_later(member, chat, 1, key=key, then=then)
    flash.flush()
    return [result for _, result in sorted(answered, key=lambda pair: pair[0])]


def test_a_batch_is_decided_in_message_order_and_refusals_leave_nothing(
    session_factory: Factory, clock: FixedClock
) -> None:
    chat, members = seed_members(session_factory, clock.now(), 4)
    sale = create_sale(session_factory, clock, [chat], [item(1, stock=3, per_member_limit=1)])
    clock.set(START)
    a, b, c, d = members
    claims = [(a, "a1"), (a, "a2"), (b, "b1"), (c, "c1"), (d, "d1")]

    statuses = in_tx(session_factory, lambda s: _batch(s, clock, chat, claims))

    assert statuses == ["claimed", "over_limit", "claimed", "claimed", "waitlisted"]
    assert [o.claim_key for o in orders(session_factory, sale)] == ["a1", "b1", "c1"]
    assert stock_of(session_factory, sale) == 0
    with session_factory() as session:
        rows = session.execute(select(FlashSaleHolding.member_id, FlashSaleHolding.held))
        held = {int(member): int(units) for member, units in rows}
    assert held == {a: 1, b: 1, c: 1, d: 0}
    assert_never_oversold(session_factory, sale)


def test_sold_out_claims_queue_in_message_order_with_two_statements_per_batch(
    session_factory: Factory, clock: FixedClock
) -> None:
    """A batch's sold-out claims join the waitlist together after its takes: places follow
    message order, a member keeps an earlier place, and a used place is not given again."""
    chat, members = seed_members(session_factory, clock.now(), 5)
    sale = create_sale(session_factory, clock, [chat], [item(1, stock=1, per_member_limit=1)])
    clock.set(START)
    a, b, c, d, e = members
    first = in_tx(session_factory, lambda s: _batch(s, clock, chat, [(a, "a1"), (d, "d1")]))
    with session_factory.begin() as session:
        session.add(
            FlashSaleWaitlist(
                sale_id=sale,
                item_id=_item_id(session, sale),
                member_id=e,
                chat_id=chat,
                status="offered",
                created_at=START,
            )
        )
    claims = [(b, "b1"), (c, "c1"), (b, "b2"), (d, "d2"), (e, "e1")]
    with statements(
        session_factory.kw["bind"], lambda s: "flash_sale_waitlist" in s
    ) as waitlist_statements:
        second = in_tx(session_factory, lambda s: _batch_results(s, clock, chat, claims))

    assert first == ["claimed", "waitlisted"]
    assert [(r.status, r.position) for r in second] == [
        ("waitlisted", 2),
        ("waitlisted", 3),
        ("waitlisted", 2),
        ("waitlisted", 1),
        ("sold_out", 0),
    ]
    assert len(waitlist_statements) == 2  # one insert, one read of the places
    with session_factory() as session:
        queued = session.scalars(
            select(FlashSaleWaitlist.member_id)
            .where(FlashSaleWaitlist.status == "waiting")
            .order_by(FlashSaleWaitlist.id)
        ).all()
    assert list(queued) == [d, b, c]


def _item_id(session: Session, sale: int) -> int:
    item_id = session.scalar(select(FlashSaleItem.id).where(FlashSaleItem.sale_id == sale))
    assert item_id is not None
    return int(item_id)


def test_replies_carry_their_own_order_and_the_stock_left(
    session_factory: Factory, clock: FixedClock
) -> None:
    chat, members = seed_members(session_factory, clock.now(), 3)
    create_sale(session_factory, clock, [chat], [item(1, stock=10)])
    clock.set(START)

    def work(session: Session) -> list[ClaimResult]:
        flash = service(session, clock)
        results: list[ClaimResult] = []
        for member in members:
            flash.claim_later(member, chat, 1, key=f"k-{member}", then=results.append)
        assert results == []  # the takes, and so the replies, wait for the flush
        flash.flush()
        return results

    results = in_tx(session_factory, work)

    assert [r.left for r in results] == [9, 8, 7]
    assert [r.order.member_id for r in results if r.order] == members
    assert len({r.order.id for r in results if r.order}) == 3


def test_a_message_given_twice_in_one_batch_claims_once(
    session_factory: Factory, clock: FixedClock
) -> None:
    chat, members = seed_members(session_factory, clock.now(), 1)
    sale = create_sale(session_factory, clock, [chat], [item(1, stock=10, per_member_limit=5)])
    clock.set(START)

    statuses = in_tx(session_factory, lambda s: _batch(s, clock, chat, [(members[0], "k")] * 2))

    assert statuses == ["claimed", "duplicate"]
    assert stock_of(session_factory, sale) == 9


def test_concurrent_batches_take_exactly_the_stock(
    db_url: str, session_factory: Factory, clock: FixedClock
) -> None:
    """Eight workers at once, each with a batch of 40 claims (two per member, limit one)
    for 50 units: exactly 50 orders, one per winner."""
    chat, members = seed_members(session_factory, clock.now(), 160)
    sale = create_sale(session_factory, clock, [chat], [item(1, stock=50, per_member_limit=1)])
    clock.set(START)
    workers = itertools.count()

    def work(session: Session) -> list[str]:
        worker = next(workers)
        mine = members[worker * 20 : worker * 20 + 20]
        claims = [(m, f"{m}:{tap}") for tap in ("a", "b") for m in mine]
        return _batch(session, clock, chat, claims)

    results = race(db_url, 8, work)

    statuses = [status for batch in results for status in batch]
    assert statuses.count("claimed") == 50
    assert set(statuses) <= {"claimed", "over_limit", "sold_out", "waitlisted"}
    with session_factory() as session:
        per_member = session.execute(
            select(FlashSaleOrder.member_id, func.count()).group_by(FlashSaleOrder.member_id)
        ).all()
    assert {count for _, count in per_member} == {1}
    assert stock_of(session_factory, sale) == 0
    assert_never_oversold(session_factory, sale)
