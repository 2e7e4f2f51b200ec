"""The outbox against a real local HTTP server: retries with backoff, dead letter, the
group robot's 20-a-minute limit, interrupted sends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.db.models import OutboxRow
from app.outbox import OutboxDispatcher, OutboxDraft, enqueue
from app.senders.bridge import BridgeSender
from app.senders.wecom_robot import WeComRobotSender
from app.settings import OutboxSettings
from tests.fakes import FakeHTTPServer, Reply

SECRET = b"bridge-secret-for-tests-000"


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as client:
        yield client


def _dispatcher(
    factory: sessionmaker[Session],
    clock: FixedClock,
    http: httpx.Client,
    server: FakeHTTPServer,
    **settings: float,
) -> OutboxDispatcher:
    senders = {
        "bridge": BridgeSender(http, server.url_for("/send"), SECRET, clock),
        "wecom_robot": WeComRobotSender(http, server.url),
    }
    return OutboxDispatcher(factory, senders, clock, OutboxSettings(**settings))  # type: ignore[arg-type]


def _enqueue(factory: sessionmaker[Session], clock: FixedClock, *drafts: OutboxDraft) -> None:
    with factory() as session, session.begin():
        enqueue(session, list(drafts), now=clock.now())


def _rows(factory: sessionmaker[Session]) -> list[OutboxRow]:
    with factory() as session:
        return list(session.scalars(select(OutboxRow).order_by(OutboxRow.id)))


def test_bridge_failure_is_retried_with_backoff_then_sent(
    session_factory: sessionmaker[Session],
    clock: FixedClock,
    http: httpx.Client,
    fake_http_server: FakeHTTPServer,
) -> None:
    fake_http_server.queue("/send", Reply(status=502), Reply(status=500))
    dispatcher = _dispatcher(
        session_factory, clock, http, fake_http_server, backoff_base_seconds=2
    )
    _enqueue(session_factory, clock, OutboxDraft("k1", "bridge", "g-001", "你好"))

    assert dispatcher.run_once().failed == 1
    assert dispatcher.run_once().claimed == 0  # backing off: not due yet
    clock.advance(seconds=2)
    assert dispatcher.run_once().failed == 1
    clock.advance(seconds=3)
    assert dispatcher.run_once().claimed == 0  # second backoff is 4 s
    clock.advance(seconds=1)
    assert dispatcher.run_once().sent == 1

    sent = fake_http_server.requests_to("/send")
    assert len(sent) == 3
    assert {r.json_body["id"] for r in sent} == {"k1"}  # the idempotency key is stable
    assert _rows(session_factory)[0].status == "sent"


def test_dead_letter_after_the_last_attempt(
    session_factory: sessionmaker[Session],
    clock: FixedClock,
    http: httpx.Client,
    fake_http_server: FakeHTTPServer,
) -> None:
    fake_http_server.set_default("/send", Reply(status=503))
    dispatcher = _dispatcher(session_factory, clock, http, fake_http_server, max_attempts=3)
    _enqueue(session_factory, clock, OutboxDraft("k1", "bridge", "g-001", "你好"))

    for _ in range(5):
        dispatcher.run_once()
        clock.advance(minutes=10)

    row = _rows(session_factory)[0]
    assert row.status == "dead"
    assert row.attempts == 3
    assert "503" in (row.last_error or "")
    assert len(fake_http_server.requests_to("/send")) == 3


def test_robot_limit_holds_in_every_60_second_window(
    session_factory: sessionmaker[Session],
    clock: FixedClock,
    http: httpx.Client,
) -> None:
    with FakeHTTPServer(clock=clock) as server:
        dispatcher = _dispatcher(session_factory, clock, http, server)
        drafts = [
            OutboxDraft(
                f"p{i}",
                "wecom_robot",
                "robot-a",
                f"第{i}条",
                extras={"robot_key": "K"},
                rate_bucket="robot:robot-a",
            )
            for i in range(50)
        ]
        _enqueue(session_factory, clock, *drafts)
        for _ in range(240):  # four simulated minutes, one pass a second
            dispatcher.run_once()
            clock.advance(seconds=1)
        times = sorted(r.received_at for r in server.requests_to("/cgi-bin/webhook/send"))

    assert len(times) == 50
    limit = OutboxSettings().robot_messages_per_minute
    for index, start in enumerate(times):
        in_window = [t for t in times[index:] if t - start < timedelta(seconds=60)]
        assert len(in_window) <= limit
    assert all(row.status == "sent" for row in _rows(session_factory))


def test_frequency_limit_45009_waits_at_least_a_minute(
    session_factory: sessionmaker[Session],
    clock: FixedClock,
    http: httpx.Client,
    fake_http_server: FakeHTTPServer,
) -> None:
    fake_http_server.queue(
        "/cgi-bin/webhook/send", Reply.wecom_error(45009, "api freq out of limit")
    )
    dispatcher = _dispatcher(session_factory, clock, http, fake_http_server)
    _enqueue(
        session_factory,
        clock,
        OutboxDraft(
            "r1",
            "wecom_robot",
            "robot-a",
            "通知",
            extras={"robot_key": "K"},
            rate_bucket="robot:a",
        ),
    )

    dispatcher.run_once()
    clock.advance(seconds=59)
    assert dispatcher.run_once().claimed == 0
    clock.advance(seconds=2)
    assert dispatcher.run_once().sent == 1


def test_interrupted_send_is_resent_only_where_the_channel_dedupes(
    session_factory: sessionmaker[Session],
    clock: FixedClock,
    http: httpx.Client,
    fake_http_server: FakeHTTPServer,
) -> None:
    _enqueue(
        session_factory,
        clock,
        OutboxDraft("b1", "bridge", "g-001", "桥接"),
        OutboxDraft("r1", "wecom_robot", "robot-a", "机器人", extras={"robot_key": "K"}),
    )
    with session_factory() as session, session.begin():  # a process claimed both, then died
        for row in session.scalars(select(OutboxRow)):
            row.status, row.lease_until = "sending", clock.now()
    clock.advance(seconds=1)

    _dispatcher(session_factory, clock, http, fake_http_server).run_once()

    statuses = {row.idempotency_key: row.status for row in _rows(session_factory)}
    assert statuses == {"b1": "sent", "r1": "dead"}
    assert [r.json_body["id"] for r in fake_http_server.requests_to("/send")] == ["b1"]
