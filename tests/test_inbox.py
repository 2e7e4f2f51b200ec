"""The inbox stores each message once and refuses a reused nonce."""

from __future__ import annotations

import asyncio

from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.db.models import InboxRow
from app.inbox import InboxItem, InboxWriter, StoreOutcome, purge_expired_keys, store_batch
from tests.factories import make_message


def _rows(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(InboxRow)) or 0)


def test_duplicates_in_one_batch_and_across_batches(
    session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    one = InboxItem(make_message("你好", at=clock.now()))
    two = InboxItem(make_message("在吗", at=clock.now()))

    first = store_batch(session_factory, [one, two, one], clock, 7200)
    second = store_batch(session_factory, [two], clock, 7200)

    assert first == [StoreOutcome.STORED, StoreOutcome.STORED, StoreOutcome.DUPLICATE]
    assert second == [StoreOutcome.DUPLICATE]
    assert _rows(session_factory) == 2


def test_identical_replay_is_a_duplicate_but_a_reused_nonce_is_refused(
    session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    original = InboxItem(make_message("a", at=clock.now()), "wecom_app:n1", "sig-a")
    replay = InboxItem(original.message, "wecom_app:n1", "sig-a")
    forged = InboxItem(make_message("b", at=clock.now()), "wecom_app:n1", "sig-b")

    assert store_batch(session_factory, [original], clock, 7200) == [StoreOutcome.STORED]
    assert store_batch(session_factory, [replay, forged], clock, 7200) == [
        StoreOutcome.DUPLICATE,
        StoreOutcome.NONCE_REUSED,
    ]
    assert _rows(session_factory) == 1


def test_group_commit_writer_stores_concurrent_requests(
    session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    stored: list[int] = []
    writer = InboxWriter(
        session_factory, clock, nonce_ttl=7200, on_stored=lambda: stored.append(1)
    )
    writer.start()
    messages = [InboxItem(make_message(f"消息{i}", at=clock.now())) for i in range(200)]

    async def send_all() -> list[StoreOutcome]:
        return await asyncio.gather(*(writer.store(item) for item in messages + messages[:10]))

    try:
        outcomes = asyncio.run(send_all())
    finally:
        writer.stop()

    assert outcomes.count(StoreOutcome.STORED) == 200
    assert outcomes.count(StoreOutcome.DUPLICATE) == 10
    assert _rows(session_factory) == 200
    assert 1 <= len(stored) <= 200  # batched: fewer commits than requests is allowed


def test_expired_replay_keys_are_purged_and_the_nonce_is_free_again(
    session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    first = InboxItem(make_message("a", at=clock.now()), "wecom_app:n9", "sig-a")
    store_batch(session_factory, [first], clock, 60)

    assert purge_expired_keys(session_factory, clock.now()) == 0
    clock.advance(seconds=61)
    assert purge_expired_keys(session_factory, clock.now()) == 1
    later = InboxItem(make_message("b", at=clock.now()), "wecom_app:n9", "sig-b")
    assert store_batch(session_factory, [later], clock, 60) == [StoreOutcome.STORED]


def test_a_request_that_went_away_does_not_stop_the_writer(
    session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    """A cancelled request (its client disconnected) is still stored; the others are answered."""
    writer = InboxWriter(session_factory, clock, nonce_ttl=7200)
    writer.start()
    gone = InboxItem(make_message("走了", at=clock.now()))
    stays = [InboxItem(make_message(f"留下{i}", at=clock.now())) for i in range(20)]

    async def send_all() -> list[StoreOutcome]:
        cancelled = asyncio.ensure_future(writer.store(gone))
        await asyncio.sleep(0)  # queued for the writer, then the client goes away
        cancelled.cancel()
        return await asyncio.gather(*(writer.store(item) for item in stays))

    try:
        outcomes = asyncio.run(send_all())
        later = asyncio.run(writer.store(InboxItem(make_message("之后", at=clock.now()))))
    finally:
        writer.stop()

    assert outcomes == [StoreOutcome.STORED] * 20
    assert later is StoreOutcome.STORED
    assert _rows(session_factory) == 22


def test_a_failed_commit_fails_every_request_of_the_batch(
    session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    unreachable = sessionmaker(create_engine("sqlite:////nonexistent-directory/inbox.db"))
    writer = InboxWriter(unreachable, clock, nonce_ttl=7200)
    writer.start()
    items = [InboxItem(make_message(f"消息{i}", at=clock.now())) for i in range(5)]

    async def send_all() -> list[StoreOutcome | BaseException]:
        return await asyncio.gather(*(writer.store(i) for i in items), return_exceptions=True)

    try:
        outcomes = asyncio.run(send_all())
    finally:
        writer.stop()

    assert all(isinstance(o, OperationalError) for o in outcomes)
    assert _rows(session_factory) == 0
