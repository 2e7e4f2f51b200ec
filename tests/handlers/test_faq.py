"""The FAQ and 转人工 routes in the real pipeline: answers, silence, hand-over tickets."""

from __future__ import annotations

from sqlalchemy import select

from app.clock import FixedClock
from app.db.models import FaqMiss, Ticket
from app.db.session import transaction
from app.faq.cache import FaqIndexCache
from app.inbox import InboxItem, store_batch
from app.runtime import Runtime
from app.services.faq import FaqService
from tests.factories import make_message
from tests.faq.conftest import TINY_KB
from tests.points_helpers import routes, run_handler

FAQ_ROUTES = routes("checkin", "handoff", "faq")


def _kb(runtime: Runtime, clock: FixedClock) -> None:
    with transaction(runtime.deps.session_factory) as session:
        FaqService(session, FaqIndexCache()).import_entries(TINY_KB, now=clock.now())


def _say(runtime: Runtime, clock: FixedClock, text: str, **kw: object) -> list[str]:
    message = make_message(text, at=clock.now(), **kw)  # type: ignore[arg-type]
    return run_handler(runtime, FAQ_ROUTES, message)


def _tickets(runtime: Runtime) -> list[tuple[str, str]]:
    with runtime.deps.session_factory() as session:
        rows = session.scalars(select(Ticket).order_by(Ticket.id)).all()
        return [(t.source, t.text) for t in rows]


def test_traditional_and_colloquial_questions_are_answered(
    runtime: Runtime, clock: FixedClock
) -> None:
    _kb(runtime, clock)

    traditional = _say(runtime, clock, "運費怎麼算？")
    colloquial = _say(runtime, clock, "姐妹们 几点关门呀[玫瑰]", user="u-002")

    assert traditional == ["5 公里内 6 元。"]
    assert colloquial == ["每天 9:00–21:00。"]


def test_small_talk_and_statements_are_ignored(runtime: Runtime, clock: FixedClock) -> None:
    _kb(runtime, clock)

    assert _say(runtime, clock, "早上好") == []
    assert _say(runtime, clock, "哈哈哈哈哈") == []
    assert _say(runtime, clock, "谢谢群主") == []
    assert _say(runtime, clock, "今天的花真好看") == []
    assert _tickets(runtime) == []


def test_a_mention_the_kb_cannot_answer_gets_the_handoff_reply_and_a_ticket(
    runtime: Runtime, clock: FixedClock
) -> None:
    _kb(runtime, clock)

    replies = _say(runtime, clock, "@小助手 你们招不招兼职花艺师", mentions_bot=True)

    assert replies == [runtime.deps.faq.config.answering.handoff_reply]
    assert _tickets(runtime) == [("mention", "你们招不招兼职花艺师")]


def test_an_unmentioned_unknown_question_stays_quiet_without_a_ticket(
    runtime: Runtime, clock: FixedClock
) -> None:
    _kb(runtime, clock)

    assert _say(runtime, clock, "你们招不招兼职花艺师？") == []
    assert _tickets(runtime) == []


def test_commands_win_over_the_faq(runtime: Runtime, clock: FixedClock) -> None:
    _kb(runtime, clock)

    replies = _say(runtime, clock, "签到")

    assert len(replies) == 1
    assert "签到成功" in replies[0]


def test_handoff_command_files_the_last_unanswered_question(
    runtime: Runtime, clock: FixedClock
) -> None:
    _kb(runtime, clock)
    _say(runtime, clock, "你们招不招兼职花艺师？")
    clock.advance(minutes=2)

    replies = _say(runtime, clock, "转人工")
    direct = _say(runtime, clock, "转人工 订单号 123 还没发货", user="u-002")

    assert replies == ["好的，已经帮你转人工，工作人员会在 24 小时内在群里回复你～"]
    assert len(direct) == 1
    assert _tickets(runtime) == [
        ("handoff", "你们招不招兼职花艺师？"),
        ("handoff", "订单号 123 还没发货"),
    ]


def test_handoff_in_the_same_batch_as_the_question_files_it(
    runtime: Runtime, clock: FixedClock
) -> None:
    _kb(runtime, clock)
    question = make_message("你们招不招兼职花艺师？", at=clock.now())
    handoff = make_message("转人工", at=clock.now())
    store_batch(runtime.deps.session_factory, [InboxItem(question), InboxItem(handoff)], clock, 0)

    results = runtime.worker.process_batch(2)

    assert [result.error for result in results] == [None, None]
    assert _tickets(runtime) == [("handoff", "你们招不招兼职花艺师？")]
    with runtime.deps.session_factory() as session:  # the miss was stored with the batch
        assert session.scalars(select(FaqMiss.text)).all() == ["你们招不招兼职花艺师？"]
