"""The weekly report: what it counts, where it goes, once per week, and only when on time."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.db.models import Base, Chat, Member, MemberEvent, OutboxRow
from app.jobs.posts import enqueue_due_posts
from app.jobs.registry import JobContext, ReportConfig, ReportSource, load_scheduler_config
from app.jobs.weekly_report import collect, report_time_before, send_weekly_report
from app.runtime import Runtime
from app.senders.base import SendError
from app.senders.console import RecordingSender
from app.services.flash_sale_orders import mark_paid
from app.services.posts import Targets
from tests.conftest import SHANGHAI
from tests.flash_sale_helpers import START, claim, create_sale, orders, seed_members
from tests.jobs.test_posts import add_chats, add_post, dispatcher, make_config

FRIDAY_REPORT = datetime(2026, 11, 27, 17, 0, tzinfo=SHANGHAI)


def _ctx(runtime: Runtime, **report: object) -> JobContext:
    config = make_config()
    return JobContext(
        runtime.deps, config.model_copy(update={"report": config.report.model_copy(update=report)})
    )


def _reports(factory: sessionmaker[Session]) -> list[OutboxRow]:
    with factory() as session:
        return list(
            session.scalars(select(OutboxRow).where(OutboxRow.idempotency_key.like("report:%")))
        )


def _member_events(factory: sessionmaker[Session], *events: tuple[str, datetime]) -> None:
    with factory.begin() as session:
        chat = session.scalars(select(Chat)).first()
        assert chat is not None
        for index, (kind, at) in enumerate(events):
            member = Member(
                platform="bridge",
                external_id=f"u-{index}",
                role="member",
                first_seen_at=at,
                last_active_at=at,
            )
            session.add(member)
            session.flush()
            session.add(
                MemberEvent(
                    chat_id=chat.id, member_id=member.id, kind=kind, at=at, source_key=f"e{index}"
                )
            )


def test_report_time_is_the_latest_configured_slot() -> None:
    report = ReportConfig()

    assert report_time_before(FRIDAY_REPORT, report, SHANGHAI) == FRIDAY_REPORT
    monday = datetime(2026, 11, 30, 9, 0, tzinfo=SHANGHAI)
    assert report_time_before(monday, report, SHANGHAI) == FRIDAY_REPORT
    before = FRIDAY_REPORT - timedelta(minutes=1)
    assert report_time_before(before, report, SHANGHAI) == FRIDAY_REPORT - timedelta(days=7)


def test_weekly_report_counts_the_week_and_goes_to_the_admins_group(
    runtime: Runtime, clock: FixedClock
) -> None:
    factory = runtime.deps.session_factory
    add_chats(factory, 3)
    add_chats(factory, 1, prefix="wr", platform="wecom_app")
    add_post(
        factory, clock, Targets(tags=("会员",)), at=datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
    )
    add_post(
        factory, clock, Targets(tags=("会员",)), at=datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)
    )
    clock.set(datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI))
    enqueue_due_posts(_ctx(runtime))
    sender = RecordingSender()
    sender.fail_next(SendError("bridge rejected the chat", retryable=False))
    dispatcher(factory, clock, sender).drain()
    clock.set(datetime(2026, 11, 24, 11, 0, tzinfo=SHANGHAI))  # an hour late: missed
    enqueue_due_posts(_ctx(runtime))
    _member_events(
        factory,
        ("join", datetime(2026, 11, 24, 8, 0, tzinfo=SHANGHAI)),
        ("join", datetime(2026, 11, 25, 8, 0, tzinfo=SHANGHAI)),
        ("leave", datetime(2026, 11, 26, 8, 0, tzinfo=SHANGHAI)),
        ("join", datetime(2026, 11, 18, 8, 0, tzinfo=SHANGHAI)),  # last week
    )
    clock.set(FRIDAY_REPORT + timedelta(seconds=5))

    assert send_weekly_report(_ctx(runtime)) is True

    [report] = _reports(factory)
    assert report.target == "g-admin"
    assert report.channel == "bridge"
    assert report.idempotency_key == "report:weekly:2026-11-27"
    lines = report.text.splitlines()
    assert lines[0] == "【群运周报】11月20日 – 11月27日"
    assert "已发送 2，失败 1，错过 4，待员工确认 1" in lines[1]
    assert "新加入 2 人，退出 1 人" in lines[2]


def test_the_report_is_sent_once_even_if_the_job_runs_again(
    runtime: Runtime, clock: FixedClock
) -> None:
    clock.set(FRIDAY_REPORT)
    assert send_weekly_report(_ctx(runtime)) is True
    clock.advance(hours=1)  # a restart catches up, or a second scheduler runs it

    assert send_weekly_report(_ctx(runtime)) is False
    assert len(_reports(runtime.deps.session_factory)) == 1


def test_a_report_too_late_or_unconfigured_is_not_sent(
    runtime: Runtime, clock: FixedClock
) -> None:
    clock.set(FRIDAY_REPORT + timedelta(hours=13))  # grace is 12 hours

    assert send_weekly_report(_ctx(runtime)) is False
    clock.set(FRIDAY_REPORT + timedelta(hours=1))
    assert send_weekly_report(_ctx(runtime, enabled=False)) is False
    assert send_weekly_report(_ctx(runtime, chat_id="")) is False
    assert _reports(runtime.deps.session_factory) == []


def test_optional_lines_come_from_tables_that_exist(runtime: Runtime, clock: FixedClock) -> None:
    factory = runtime.deps.session_factory
    add_chats(factory, 1)
    _member_events(
        factory,
        ("join", datetime(2026, 11, 24, 8, 0, tzinfo=SHANGHAI)),
        ("leave", datetime(2026, 11, 25, 8, 0, tzinfo=SHANGHAI)),
    )
    sources = [
        ReportSource(
            line="· 事件：{count}", tables=["no_such_table", "member_events"], time_columns=["at"]
        ),
        ReportSource(
            line="· 退群：{count}",
            tables=["member_events"],
            status_column="kind",
            statuses=["leave"],
        ),
        ReportSource(line="· 工单：{count}", tables=["tickets_not_installed"]),
        ReportSource(line="· 坏列：{count}", tables=["member_events"], time_columns=["nope"]),
    ]

    with factory() as session:
        stats = collect(
            session, FRIDAY_REPORT - timedelta(days=7), FRIDAY_REPORT, sources, SHANGHAI
        )

    assert stats.extra == ["· 事件：2", "· 退群：1"]


def test_default_sources_fit_the_tables_that_are_installed(runtime: Runtime) -> None:
    sources = load_scheduler_config().report.sources
    installed = [s for s in sources if any(t in Base.metadata.tables for t in s.tables)]

    with runtime.deps.session_factory() as session:
        stats = collect(
            session, FRIDAY_REPORT - timedelta(days=7), FRIDAY_REPORT, sources, SHANGHAI
        )

    assert stats.extra == [s.line.format(count=0) for s in installed]


def test_flash_sale_lines_count_claims_and_payments_of_the_week(
    runtime: Runtime, clock: FixedClock
) -> None:
    factory = runtime.deps.session_factory
    chat_pk, members = seed_members(factory, clock.now(), 3)
    sale_id = create_sale(factory, clock, [chat_pk])
    clock.set(START + timedelta(minutes=1))
    for member_pk in members:
        assert claim(factory, clock, member_pk, chat_pk).status == "claimed"
    first, second, _ = orders(factory, sale_id)
    with factory.begin() as session:
        mark_paid(session, first.id, now=clock.now())
        mark_paid(session, second.id, now=FRIDAY_REPORT + timedelta(minutes=1))  # next week
    sources = load_scheduler_config().report.sources

    with factory() as session:
        stats = collect(
            session, FRIDAY_REPORT - timedelta(days=7), FRIDAY_REPORT, sources, SHANGHAI
        )

    assert "· 限时秒杀：抢到 3 单" in stats.extra
    assert "· 秒杀付款：1 单" in stats.extra
