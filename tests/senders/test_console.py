"""ConsoleSender output and RecordingSender scripting."""

from __future__ import annotations

import io

import pytest

from app.senders.base import Delivery, SendError
from app.senders.console import ConsoleSender, RecordingSender

DELIVERY = Delivery(
    key="k", channel="bridge", target="g-001", text="签到成功", mention_ids=("u-1", "u-2")
)


def test_console_prints_channel_target_mentions_and_text() -> None:
    stream = io.StringIO()

    ConsoleSender(stream).send(DELIVERY)

    assert stream.getvalue() == "[bridge:g-001] @u-1 @u-2 签到成功\n"


def test_console_prints_actions() -> None:
    stream = io.StringIO()
    action = Delivery(
        key="k",
        channel="bridge",
        target="g-001",
        text="",
        kind="action",
        extras={"action": "remove_member", "user_id": "u-9", "reason": "广告"},
    )

    ConsoleSender(stream).send(action)

    assert stream.getvalue() == "[bridge:g-001] action remove_member user=u-9 reason=广告\n"


def test_console_defaults_to_the_current_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    ConsoleSender().send(Delivery(key="k", channel="console", target="me", text="hi"))

    assert capsys.readouterr().out == "[console:me] hi\n"


def test_recording_sender_records_and_fails_on_cue() -> None:
    sender = RecordingSender()
    sender.fail_next(SendError("busy", retry_after=60), SendError("gone", retryable=False))

    for expected in ("busy", "gone"):
        with pytest.raises(SendError, match=expected):
            sender.send(DELIVERY)
    sender.send(DELIVERY)

    assert sender.sent == [DELIVERY]
    assert sender.attempts == [DELIVERY] * 3
