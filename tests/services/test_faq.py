"""The FAQ service: KB upserts and versions, when to answer, cooldown, scope, misses, stats."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.db.models import Chat, FaqHit, FaqMiss
from app.db.session import transaction
from app.faq.cache import FaqIndexCache
from app.faq.config import load_faq_config
from app.faq.index import FaqIndex, KbEntry
from app.services.faq import (
    EntryInput,
    FaqService,
    Outcome,
    kb_version,
    snapshot_loader,
)
from app.services.faq_stats import faq_stats
from tests.conftest import SHANGHAI
from tests.faq.conftest import TINY_KB
from tests.points_helpers import seed_member

Factory = sessionmaker[Session]


def _import(factory: Factory, clock: FixedClock, entries: tuple[KbEntry, ...] = TINY_KB) -> None:
    with transaction(factory) as session:
        FaqService(session, FaqIndexCache()).import_entries(entries, now=clock.now())


def _decide(
    factory: Factory,
    cache: FaqIndexCache,
    clock: FixedClock,
    text: str,
    *,
    chat_pk: int,
    member_pk: int,
    mentioned: bool = False,
) -> tuple[Outcome, str]:
    with transaction(factory) as session:
        service = FaqService(session, cache, snapshot_loader(factory))
        decision = service.decide(
            text, chat_pk=chat_pk, member_pk=member_pk, mentioned=mentioned, now=clock.now()
        )
    return decision.outcome, decision.text


def test_import_upserts_by_id_and_moves_the_version_only_on_change(
    session_factory: Factory, clock: FixedClock
) -> None:
    _import(session_factory, clock)
    with transaction(session_factory) as session:
        first = kb_version(session)
        service = FaqService(session, FaqIndexCache())
        again = service.import_entries(TINY_KB, now=clock.now())
        changed = KbEntry("S1", "运费怎么算？", (), "6 元起。", ("运费",))
        edited = service.import_entries((changed,), now=clock.now())
        stored = service.get("S1")

    assert (first, again.unchanged, again.created) == (1, len(TINY_KB), 0)
    assert (edited.updated, edited.created) == (1, 0)
    assert stored is not None
    assert stored.answer == "6 元起。"
    with session_factory() as session:
        assert kb_version(session) == 2


def test_answers_questions_and_ignores_small_talk_and_statements(
    session_factory: Factory, clock: FixedClock
) -> None:
    member_pk, chat_pk = seed_member(session_factory, clock.now())
    _import(session_factory, clock)
    cache = FaqIndexCache()

    answered = _decide(
        session_factory, cache, clock, "請問積分怎麼用呀？", chat_pk=chat_pk, member_pk=member_pk
    )
    chatter = _decide(
        session_factory, cache, clock, "哈哈哈哈", chat_pk=chat_pk, member_pk=member_pk
    )
    statement = _decide(
        session_factory, cache, clock, "今天的玫瑰真好看", chat_pk=chat_pk, member_pk=member_pk
    )

    assert answered == (Outcome.ANSWER, "100 积分抵 1 元。")
    assert chatter[0] is Outcome.SILENT
    assert statement[0] is Outcome.SILENT


def test_a_mention_without_an_answer_hands_over_and_logs_a_miss(
    session_factory: Factory, clock: FixedClock
) -> None:
    member_pk, chat_pk = seed_member(session_factory, clock.now())
    _import(session_factory, clock)
    cache = FaqIndexCache()

    outcome, text = _decide(
        session_factory,
        cache,
        clock,
        "@小助手 你们招不招兼职花艺师",
        chat_pk=chat_pk,
        member_pk=member_pk,
        mentioned=True,
    )

    assert outcome is Outcome.HANDOFF
    assert "转人工" in text
    with session_factory() as session:
        misses = session.scalars(select(FaqMiss)).all()
    assert [(m.mentioned, m.text) for m in misses] == [(True, "@小助手 你们招不招兼职花艺师")]


@pytest.mark.parametrize(("floor", "suggested"), [(0.0, True), (1.0, False)])
def test_the_handoff_suggests_the_entries_it_was_not_sure_of_above_the_floor(
    session_factory: Factory, clock: FixedClock, floor: float, suggested: bool
) -> None:
    member_pk, chat_pk = seed_member(session_factory, clock.now())
    _import(session_factory, clock)
    config = load_faq_config()
    answering = replace(config.answering, suggestions=1, suggestion_floor=floor)
    cache = FaqIndexCache(load_config=lambda: replace(config, answering=answering))
    question = "@小助手 玫瑰的花语是什么"

    outcome, text = _decide(
        session_factory,
        cache,
        clock,
        question,
        chat_pk=chat_pk,
        member_pk=member_pk,
        mentioned=True,
    )

    assert outcome is Outcome.HANDOFF
    assert text.startswith(answering.handoff_reply)
    top = FaqIndex.build(TINY_KB, config).match(question).candidates[0]
    entry = next(e for e in TINY_KB if e.id == top.entry_id)
    assert (f"「{entry.question}」" in text) is suggested
    assert text.count("「") == (1 if suggested else 0)


def test_cooldown_points_back_within_the_window_with_an_injected_clock(
    session_factory: Factory, clock: FixedClock
) -> None:
    member_pk, chat_pk = seed_member(session_factory, clock.now())
    other_pk, _ = seed_member(session_factory, clock.now(), user="u-002")
    _import(session_factory, clock)
    cache = FaqIndexCache()

    first = _decide(
        session_factory, cache, clock, "积分怎么用？", chat_pk=chat_pk, member_pk=member_pk
    )
    clock.advance(minutes=4)
    second = _decide(
        session_factory, cache, clock, "积分能抵现吗", chat_pk=chat_pk, member_pk=other_pk
    )
    clock.advance(minutes=7)  # 11 minutes after the answer: the 10-minute cooldown is over
    third = _decide(
        session_factory, cache, clock, "积分怎么用？", chat_pk=chat_pk, member_pk=other_pk
    )

    assert first[0] is Outcome.ANSWER
    assert second == (Outcome.COOLDOWN, "这个问题 4 分钟前刚回答过，往上翻翻聊天记录就能看到哦～")
    assert third[0] is Outcome.ANSWER
    with session_factory() as session:
        kinds = session.scalars(select(FaqHit.kind).order_by(FaqHit.id)).all()
    assert kinds == ["answer", "cooldown", "answer"]


def test_scope_and_validity_decide_where_and_when_an_entry_answers(
    session_factory: Factory, clock: FixedClock
) -> None:
    member_pk, chat_pk = seed_member(session_factory, clock.now())
    _, vip_pk = seed_member(session_factory, clock.now(), chat="g-vip")
    now = clock.now()
    with transaction(session_factory) as session:
        vip = session.get(Chat, vip_pk)
        assert vip is not None
        vip.tags = ["vip"]
        service = FaqService(session, FaqIndexCache())
        service.create(
            EntryInput("V1", "会员日是哪天？", "每月 8 号。", scope_tags=("vip",)), now=now
        )
        service.create(
            EntryInput(
                "P1",
                "情人节预订什么时候开始？",
                "2 月 1 日开始。",
                valid_from=now + timedelta(days=1),
            ),
            now=now,
        )
    cache = FaqIndexCache()

    in_vip = _decide(
        session_factory, cache, clock, "会员日是哪天？", chat_pk=vip_pk, member_pk=member_pk
    )
    elsewhere = _decide(
        session_factory, cache, clock, "会员日是哪天？", chat_pk=chat_pk, member_pk=member_pk
    )
    too_early = _decide(
        session_factory,
        cache,
        clock,
        "情人节预订什么时候开始？",
        chat_pk=chat_pk,
        member_pk=member_pk,
    )
    clock.advance(days=2)
    in_time = _decide(
        session_factory,
        cache,
        clock,
        "情人节预订什么时候开始？",
        chat_pk=chat_pk,
        member_pk=member_pk,
    )

    assert in_vip == (Outcome.ANSWER, "每月 8 号。")
    assert elsewhere[0] is Outcome.SILENT
    assert too_early[0] is Outcome.SILENT
    assert in_time == (Outcome.ANSWER, "2 月 1 日开始。")


def test_another_process_notices_the_version_and_rebuilds_in_the_background(
    session_factory: Factory, clock: FixedClock
) -> None:
    member_pk, chat_pk = seed_member(session_factory, clock.now())
    _import(session_factory, clock, TINY_KB[:3])
    worker_cache = FaqIndexCache()  # the cache of another web worker
    before = _decide(
        session_factory,
        worker_cache,
        clock,
        "可以开发票吗？",
        chat_pk=chat_pk,
        member_pk=member_pk,
    )

    _import(session_factory, clock)  # a CLI import in yet another process
    stale = _decide(
        session_factory,
        worker_cache,
        clock,
        "可以开发票吗？",
        chat_pk=chat_pk,
        member_pk=member_pk,
    )
    worker_cache.wait()
    fresh = _decide(
        session_factory,
        worker_cache,
        clock,
        "可以开发票吗？",
        chat_pk=chat_pk,
        member_pk=member_pk,
    )

    assert before[0] is Outcome.SILENT  # S4 is not in the first three entries
    assert stale[0] is Outcome.SILENT  # the old index answers while the new one is built
    assert fresh == (Outcome.ANSWER, "订单页申请开票。")
    assert worker_cache.version == 2


def test_stats_count_hits_per_entry_the_unanswered_rate_and_top_misses_per_week(
    session_factory: Factory, clock: FixedClock
) -> None:
    member_pk, chat_pk = seed_member(session_factory, clock.now())
    _import(session_factory, clock)
    cache = FaqIndexCache()
    start = clock.now()
    for text in ("积分怎么用？", "几点关门呀", "你们招不招花艺师？", "你们招不招花艺师？"):
        _decide(session_factory, cache, clock, text, chat_pk=chat_pk, member_pk=member_pk)
        clock.advance(minutes=1)

    with session_factory() as session:
        stats = faq_stats(session, since=start - timedelta(days=7), until=clock.now(), tz=SHANGHAI)

    assert [(h.entry_id, h.answers) for h in stats.hits] == [("S2", 1), ("S3", 1)]
    assert (stats.answered, stats.unanswered, stats.unanswered_rate) == (2, 2, 0.5)
    assert stats.weeks[0].week_start.isoformat() == "2026-11-23"  # a Monday
    assert stats.weeks[0].questions == (("你们招不招花艺师", 2),)
