"""The recent-activity table: what activity rules are given, once per message, pruned by age."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.clock import FixedClock
from app.db.models import ModerationActivity
from app.db.session import transaction
from app.inbox import InboxItem, store_batch
from app.messages import ChatRef
from app.moderation.activity import similarity_key
from app.runtime import Runtime, build_runtime
from app.services import Services
from app.services.moderation_activity import (
    MIN_RETENTION,
    PRUNE_EVERY,
    ActivityLog,
    length_range,
)
from app.settings import Settings
from tests.factories import GROUP
from tests.moderation.db_helpers import cases, in_services, member_pk, message, say


def _count(runtime: Runtime) -> int:
    with runtime.deps.session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(ModerationActivity)) or 0)


def test_length_range_bounds_what_can_be_similar() -> None:
    assert length_range(20, 1.0) == (20, 20)
    assert length_range(20, 0.9) == (16, 25)


def test_a_message_is_recorded_once(runtime: Runtime, clock: FixedClock) -> None:
    say(runtime, clock, "你好")
    chat = in_services(runtime, lambda s: s.members.ensure_chat(_group(), now=clock.now()))
    pk = member_pk(runtime)

    def record(services: Services) -> None:
        ActivityLog(services.session, services.deps.recent_messages).record(
            message_key="k-1", chat_pk=chat, member_pk=pk, text_key="abc", at=clock.now()
        )

    in_services(runtime, record)
    in_services(runtime, record)
    assert _count(runtime) == 2  # "你好" and k-1


def test_recent_gives_the_members_window_and_similar_texts_of_others(
    runtime: Runtime, clock: FixedClock
) -> None:
    say(runtime, clock, "今天的玫瑰真的很漂亮呀", user="u-a")
    say(runtime, clock, "完全不一样而且长得多的一句话，和别的都不像", user="u-b")
    clock.advance(seconds=5)
    say(runtime, clock, "早", user="u-c")
    pk = member_pk(runtime, "u-c")

    def recent(services: Services) -> list[str]:
        rules = services.moderation.config.scope_rules("bridge", "g-001")
        chat = services.members.ensure_chat(_group(), now=clock.now())
        found = ActivityLog(services.session, services.deps.recent_messages).recent(
            rules,
            chat_pk=chat,
            member_pk=pk,
            text_key="今天的玫瑰真的很漂亮啊",
            at=clock.now(),
        )
        return [m.normalized_text for m in found]

    assert in_services(runtime, recent) == ["今天的玫瑰真的很漂亮呀", "早"]


def test_old_rows_are_pruned(runtime: Runtime, clock: FixedClock) -> None:
    say(runtime, clock, "一条旧消息")
    clock.advance(hours=25)
    chat = in_services(runtime, lambda s: s.members.ensure_chat(_group(), now=clock.now()))
    pk = member_pk(runtime)

    def fill(services: Services) -> None:
        log = ActivityLog(services.session, services.deps.recent_messages)
        for n in range(PRUNE_EVERY):
            log.record(
                message_key=f"m-{n}", chat_pk=chat, member_pk=pk, text_key="x", at=clock.now()
            )

    in_services(runtime, fill)  # row id PRUNE_EVERY prunes what is older than the retention

    assert _count(runtime) == PRUNE_EVERY
    cutoff = clock.now() - MIN_RETENTION - timedelta(seconds=1)
    assert (
        in_services(
            runtime, lambda s: ActivityLog(s.session, s.deps.recent_messages).prune(cutoff)
        )
        == 0
    )


def test_a_wave_counts_messages_another_process_recorded(
    runtime: Runtime, settings: Settings, clock: FixedClock
) -> None:
    wave = "亲们看这个超值的活动，点进去就有惊喜哦"
    other = build_runtime(settings, clock=clock)  # a second web process: its own window
    try:
        say(runtime, clock, "先来一句普通的聊天内容吧", user="u-x")  # both windows loaded
        say(other, clock, "另一个进程里也说一句话", user="u-y")
        say(runtime, clock, wave, user="u-a")
        say(runtime, clock, wave, user="u-b")
        assert cases(runtime) == []

        delivered = say(other, clock, wave, user="u-c")
    finally:
        other.stop()

    assert delivered.routes == ("moderation",)
    assert [case.rule for case in cases(runtime)] == ["spam_wave"]


def test_rows_of_a_rolled_back_transaction_are_not_remembered(
    runtime: Runtime, clock: FixedClock
) -> None:
    say(runtime, clock, "先来一句普通的聊天内容吧")
    chat = in_services(runtime, lambda s: s.members.ensure_chat(_group(), now=clock.now()))
    pk = member_pk(runtime)
    window = runtime.deps.recent_messages
    key = similarity_key("亲们看这个超值的活动点进去就有惊喜哦")

    def record_then_fail() -> None:
        with transaction(runtime.deps.session_factory) as session:
            ActivityLog(session, window).record(
                message_key="k-gone", chat_pk=chat, member_pk=pk, text_key=key, at=clock.now()
            )
            raise RuntimeError("the batch failed")

    with pytest.raises(RuntimeError):
        record_then_fail()
    in_services(
        runtime,
        lambda s: s.moderation.activity.recent(
            s.moderation.config.scope_rules("bridge", "g-001"),
            chat_pk=chat,
            member_pk=pk,
            text_key=key,
            at=clock.now(),
        ),
    )

    found = window.similar(
        key,
        lengths=(len(key), len(key)),
        since=clock.now() - timedelta(minutes=1),
        until=clock.now(),
        min_similarity=0.9,
    )
    assert found == []
    assert _count(runtime) == 1


def test_messages_of_one_batch_count_for_each_other(runtime: Runtime, clock: FixedClock) -> None:
    wave = "亲们看这个超值的活动，点进去就有惊喜哦"
    batch = [message(f"第{n}条消息", clock, user="u-fast") for n in range(6)]
    batch += [message(wave, clock, user=user) for user in ("u-a", "u-b", "u-c")]
    store_batch(runtime.deps.session_factory, [InboxItem(m) for m in batch], clock, 0)

    results = runtime.worker.process_batch(len(batch))

    assert len(results) == len(batch)
    assert sorted(case.rule for case in cases(runtime)) == ["flood", "spam_wave"]
    assert _count(runtime) == len(batch)


def test_a_batch_counts_the_senders_stored_messages_in_the_window(
    runtime: Runtime, clock: FixedClock
) -> None:
    say(runtime, clock, "很早以前的一条", user="u-fast")  # 11 s before: outside the window
    clock.advance(seconds=11)
    for n in range(3):
        say(runtime, clock, f"已经存下的第{n}条", user="u-fast")
    batch = [message(f"这一批的第{n}条", clock, user="u-fast") for n in range(2)]
    batch.append(message("别人的一句话", clock, user="u-calm"))
    store_batch(runtime.deps.session_factory, [InboxItem(m) for m in batch], clock, 0)

    runtime.worker.process_batch(len(batch))
    assert cases(runtime) == []  # 5 messages within 10 s: one below the limit

    batch = [message("这一批的最后一条", clock, user="u-fast")]
    store_batch(runtime.deps.session_factory, [InboxItem(m) for m in batch], clock, 0)
    runtime.worker.process_batch(1)
    assert [case.rule for case in cases(runtime)] == ["flood"]


def _group() -> ChatRef:
    return GROUP
