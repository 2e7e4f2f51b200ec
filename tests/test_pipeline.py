"""The pipeline runs routes in order, honours filters and STOP; filters are Chinese-safe."""

from __future__ import annotations

from unittest.mock import MagicMock

import pytest

from app.clock import FixedClock
from app.filters import command, in_group, is_text, strip_mentions, unanswered
from app.messages import ChatRef, Kind, Platform
from app.pipeline import Context, Flow, Pipeline, Route
from tests.factories import make_message


def _ctx(text: str, clock: FixedClock, **kw: object) -> Context:
    message = make_message(text, at=clock.now(), **kw)  # type: ignore[arg-type]
    return Context(message=message, services=MagicMock(), now=clock.now(), chat_pk=1, member_pk=1)


def test_routes_run_in_order_until_stop(clock: FixedClock) -> None:
    seen: list[str] = []

    def make(name: str, flow: Flow) -> Route:
        return Route(name, lambda ctx: seen.append(name) or flow)  # type: ignore[func-returns-value]

    ran = Pipeline(make("a", Flow.CONTINUE), make("b", Flow.STOP), make("c", Flow.CONTINUE)).run(
        _ctx("x", clock)
    )

    assert seen == ["a", "b"]
    assert ran == ["a", "b"]


def test_a_filtered_route_is_skipped(clock: FixedClock) -> None:
    pipeline = Pipeline(Route("only-groups", lambda ctx: Flow.CONTINUE, when=(in_group,)))
    one_to_one = ChatRef(Platform.BRIDGE, "u-1", is_group=False)

    assert pipeline.run(_ctx("x", clock, chat=one_to_one)) == []


def test_duplicate_route_names_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        Pipeline(Route("a", lambda c: Flow.CONTINUE), Route("a", lambda c: Flow.CONTINUE))


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("帮助", True),
        (" 帮助 ", True),
        ("@小助手 帮助", True),
        ("@小助手\u2005帮助", True),
        ("帮助我一下", False),  # a command is the whole message, not a prefix
        ("请问帮助在哪", False),
    ],
)
def test_command_filter(text: str, matches: bool, clock: FixedClock) -> None:
    assert command("帮助")(_ctx(text, clock)) is matches


def test_command_with_arguments(clock: FixedClock) -> None:
    ctx = _ctx("申诉 我没有发广告", clock)

    assert command("申诉", takes_args=True)(ctx)
    assert ctx.command_args == "我没有发广告"


def test_strip_mentions_keeps_a_lone_mention_empty() -> None:
    assert strip_mentions("@小助手") == ""
    assert strip_mentions("@a @b 签到") == "签到"


def test_is_text_and_unanswered(clock: FixedClock) -> None:
    image = _ctx("", clock, kind=Kind.IMAGE)
    ctx = _ctx("你好", clock)

    assert not is_text(image)
    assert unanswered(ctx)
    ctx.reply("在的")
    assert not unanswered(ctx)
