"""抢<编号> through the real pipeline and inbox worker: parsing, replies, idempotent messages,
and a concurrent end-to-end storm through several inbox-worker threads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.clock import FixedClock
from app.db.models import Chat, Member, OutboxRow
from app.dispatcher import ProcessResult
from app.filters import unanswered
from app.handlers import PIPELINE
from app.handlers.flash_sale import parse_claim
from app.inbox import InboxItem
from app.messages import ChatRef, InboundMessage, Platform
from app.pipeline import Context
from app.runtime import Runtime
from app.services import Services
from tests.conftest import BRIDGE_SECRET
from tests.factories import bridge_event, make_message, signed
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
from tests.points_helpers import apply, seed_member
from tests.statements import statements

ALIASES = ("抢", "秒杀", "抢购")


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("抢3", 3),
        ("抢 3", 3),
        ("抢３", 3),  # full-width digit
        ("抢\u30003", 3),  # full-width space
        ("秒杀12", 12),
        ("抢购3号", 3),
        ("抢#7", 7),
        ("@群运 抢3", 3),
        ("@群运\u2005抢 3", 3),
        ("抢购很好", None),
        ("抢3个", None),
        ("我想抢3", None),
        ("抢", None),
        ("抢1234567", None),
        ("抢²", 2),  # NFKC makes it a plain digit
    ],
)
def test_claim_words(text: str, number: int | None) -> None:
    assert parse_claim(text, ALIASES) == number


def _store(runtime: Runtime, message: InboundMessage) -> None:
    runtime.writer.store_now([InboxItem(message)])


def _say(runtime: Runtime, clock: FixedClock, text: str, **kw: object) -> ProcessResult:
    _store(runtime, make_message(text, at=clock.now(), **kw))  # type: ignore[arg-type]
    result = runtime.worker.process_next()
    assert result is not None
    assert result.error is None
    return result


def _replies(runtime: Runtime) -> list[str]:
    with runtime.deps.session_factory() as session:
        return list(
            session.scalars(
                select(OutboxRow.text)
                .where(OutboxRow.idempotency_key.like("reply:%"))
                .order_by(OutboxRow.id)
            )
        )


@pytest.fixture
def sale(runtime: Runtime, clock: FixedClock) -> int:
    factory = runtime.deps.session_factory
    chat, _ = seed_members(factory, clock.now(), 3)
    return create_sale(factory, clock, [chat], [item(3, stock=2, name="红玫瑰花束")])


def test_a_claim_is_answered_with_the_payment_link_and_deadline(
    runtime: Runtime, clock: FixedClock, sale: int
) -> None:
    clock.set(START)

    result = _say(runtime, clock, "抢3")

    # answered, and nothing else stopped (moderation judges every group message first)
    assert result.routes == ("moderation", "flash_sale", "activity")
    order = orders(runtime.deps.session_factory, sale)[0]
    reply = _replies(runtime)[0]
    assert reply.startswith("小满 抢到啦 🎉 3号 红玫瑰花束 ×1，¥29.90")
    assert "11月23日 10:15 前付款" in reply
    assert f"pay?order={order.id}" in reply


def test_before_the_start_the_reply_counts_down(
    runtime: Runtime, clock: FixedClock, sale: int
) -> None:
    _say(runtime, clock, "抢3")

    expected = "小满，「周末秒杀」11月23日 10:00 开抢，还有 30 分 0 秒，到点再来哦～"
    assert _replies(runtime) == [expected]
    assert orders(runtime.deps.session_factory, sale) == []


def test_an_early_access_member_is_counted_down_to_their_own_start_then_claims(
    runtime: Runtime, clock: FixedClock, sale: int
) -> None:
    factory = runtime.deps.session_factory
    member, _ = seed_member(factory, clock.now(), user="u-0000")
    apply(factory, clock, member, 1500, "earned")  # Lv4: 5 minutes early
    clock.set(START - timedelta(minutes=6))
    _say(runtime, clock, "抢3", user="u-0000")
    clock.set(START - timedelta(minutes=4))
    _say(runtime, clock, "抢3", user="u-0000")

    early, claimed = _replies(runtime)
    assert early == (
        "小满，「周末秒杀」11月23日 10:00 开抢；你是 Lv4 盛放 会员，可提前 5 分钟抢"
        "（11月23日 09:55 起），还有 1 分 0 秒，到点再来哦～"
    )
    assert claimed.startswith("小满 抢到啦 🎉 3号 红玫瑰花束")
    assert [o.member_id for o in orders(factory, sale)] == [member]


def test_sold_out_over_limit_and_unknown_numbers_are_answered(
    runtime: Runtime, clock: FixedClock, sale: int
) -> None:
    clock.set(START)
    for user in ("u-0000", "u-0001"):
        _say(runtime, clock, "抢3", user=user)

    _say(runtime, clock, "抢3", user="u-0000")
    _say(runtime, clock, "抢 3", user="u-0002")
    _say(runtime, clock, "抢9", user="u-0002")

    assert _replies(runtime)[2:] == [
        "小满，3号 红玫瑰花束 每人限抢 1 件，你已经抢到 1 件啦。",
        "小满，3号 红玫瑰花束 已抢光，已为你登记候补第 1 位；有人超时未付款会自动补给你。",
        "小满，本场没有 9 号商品，可抢的编号：3。",
    ]


def test_the_ai_bot_mention_works_and_the_claim_counts_as_answered(
    runtime: Runtime, clock: FixedClock
) -> None:
    factory = runtime.deps.session_factory
    bot_group = ChatRef(Platform.WECOM_BOT, "wr-group", True, "内部群")
    message = make_message("@群运 抢３", at=START, chat=bot_group, mentions_bot=True)
    with runtime.deps.session_factory.begin() as session:
        chat_pk = Services.build(session, runtime.deps).members.ensure_chat(bot_group, now=START)
    sale = create_sale(factory, clock, [chat_pk], [item(3)])
    clock.set(START)

    with runtime.deps.session_factory.begin() as session:
        services = Services.build(session, runtime.deps)
        member_pk = services.members.ensure_member(
            "wecom_bot", message.sender_id, name="小满", role=None, now=START
        )
        ctx = Context(message, services, clock.now(), chat_pk, member_pk)
        PIPELINE.run(ctx)
        assert not unanswered(ctx)  # before its reply is given, the FAQ leaves a claim alone
        PIPELINE.finish(services)

    assert len(ctx.replies) == 1
    assert "抢到啦" in ctx.replies[0].text
    assert stock_of(factory, sale, 3) == 99


def test_a_retried_bridge_event_claims_once(
    client: TestClient, runtime: Runtime, clock: FixedClock, sale: int
) -> None:
    clock.set(START)
    event = bridge_event("抢3", at=clock.now(), id="bridge-claim-1", user="u-0000")
    for _ in range(3):
        body, headers = signed(event, BRIDGE_SECRET, timestamp=int(clock.now().timestamp()))
        assert client.post("/callbacks/bridge", content=body, headers=headers).status_code == 200
        runtime.worker.drain()

    assert len(orders(runtime.deps.session_factory, sale)) == 1
    assert stock_of(runtime.deps.session_factory, sale, 3) == 1
    assert len(_replies(runtime)) == 1


def test_a_claim_storm_through_inbox_workers_never_oversells(
    runtime: Runtime, clock: FixedClock
) -> None:
    factory = runtime.deps.session_factory
    chat, _ = seed_members(factory, clock.now(), 100)
    sale = create_sale(factory, clock, [chat], [item(1, stock=20)])
    clock.set(START)
    messages = [
        make_message(word, at=START, user=f"u-{i:04d}")
        for i in range(100)
        for word in ("抢1", "抢 1")
    ]
    runtime.writer.store_now([InboxItem(m) for m in messages])
    threads = 4
    barrier = threading.Barrier(threads, timeout=60)

    def work() -> int:
        barrier.wait()
        done = 0
        while (result := runtime.worker.process_next()) is not None:
            assert result.error is None
            done += 1
        return done

    with ThreadPoolExecutor(max_workers=threads) as pool:
        processed = sum(f.result() for f in [pool.submit(work) for _ in range(threads)])

    assert processed == 200
    assert len(orders(factory, sale)) == 20
    assert stock_of(factory, sale, 1) == 0
    assert len(_replies(runtime)) == 200
    assert sum("抢到啦" in reply for reply in _replies(runtime)) == 20
    assert_never_oversold(factory, sale)


def test_batched_workers_on_several_items_never_oversell_nor_fail(
    runtime: Runtime, clock: FixedClock
) -> None:
    """Batches of claims on two items from interleaved members, in parallel workers: on
    PostgreSQL the batches' row locks must not deadlock (no failed row) and stock holds."""
    factory = runtime.deps.session_factory
    chat, _ = seed_members(factory, clock.now(), 60)
    items = [item(1, stock=25, per_member_limit=1), item(2, stock=25, per_member_limit=1)]
    sale = create_sale(factory, clock, [chat], items)
    clock.set(START)
    messages = [
        make_message(f"抢{number}", at=START, user=f"u-{i:04d}")
        for i in range(60)
        for number in ((1, 2) if i % 2 else (2, 1))
    ]
    runtime.writer.store_now([InboxItem(m) for m in messages])

    def work(_: int) -> int:
        done = 0
        while results := runtime.worker.process_batch(8):
            assert all(result.error is None for result in results)
            done += len(results)
        return done

    assert sum(run_together(range(4), 4, work)) == 120
    assert len(orders(factory, sale)) == 50
    assert (stock_of(factory, sale, 1), stock_of(factory, sale, 2)) == (0, 0)
    assert len(_replies(runtime)) == 120
    assert_never_oversold(factory, sale)


def test_a_claim_in_the_last_second_counts_and_after_the_end_does_not(
    runtime: Runtime, clock: FixedClock, sale: int
) -> None:
    clock.set(START + timedelta(hours=2) - timedelta(seconds=1))
    _say(runtime, clock, "抢3", user="u-0000")
    clock.advance(seconds=1)
    _say(runtime, clock, "抢3", user="u-0001")

    assert "抢到啦" in _replies(runtime)[0]
    assert _replies(runtime)[1] == "小满，「周末秒杀」已结束，感谢参与！"


def test_a_batch_reads_its_claims_ahead_once_and_its_own_takes_keep_that_current(
    runtime: Runtime, clock: FixedClock, sale: int
) -> None:
    """One batch: a claim already taken under its key, the last unit, a second claim of the
    member who took it (over the limit) and a claim after it sold out (waitlisted)."""
    factory = runtime.deps.session_factory
    clock.set(START)
    taken_before = make_message("抢3", at=START, user="u-0000")
    member_pk = _member_pk(runtime, "u-0000")
    chat_pk = _chat_pk(runtime)
    assert claim(factory, clock, member_pk, chat_pk, 3, key=taken_before.dedupe_key).left == 1
    batch = [
        taken_before,
        make_message("抢3", at=START, user="u-0001"),
        make_message("抢 3", at=START, user="u-0001"),
        make_message("抢3", at=START, user="u-0002"),
    ]
    runtime.writer.store_now([InboxItem(m) for m in batch])
    with statements(factory.kw["bind"], lambda s: "flash_sale_blocks" in s) as lookups:
        results = runtime.worker.process_batch(10)

    assert [result.error for result in results] == [None] * 4
    assert len(lookups) == 1  # the block list is read once for the batch, not per claim
    replies = _replies(runtime)
    assert len(replies) == 4
    assert "抢到啦" in replies[1]
    assert replies[2] == "小满，3号 红玫瑰花束 每人限抢 1 件，你已经抢到 1 件啦。"
    assert replies[3].endswith("已抢光，已为你登记候补第 1 位；有人超时未付款会自动补给你。")
    assert len(orders(factory, sale)) == 2
    assert stock_of(factory, sale, 3) == 0
    assert_never_oversold(factory, sale)


def _member_pk(runtime: Runtime, user: str) -> int:
    with runtime.deps.session_factory() as session:
        pk = session.scalar(select(Member.id).where(Member.external_id == user))
    assert pk is not None
    return int(pk)


def _chat_pk(runtime: Runtime) -> int:
    with runtime.deps.session_factory() as session:
        pk = session.scalar(select(Chat.id))
    assert pk is not None
    return int(pk)
