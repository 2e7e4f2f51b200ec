"""/callbacks/wecom/app over HTTP: verification, storage, dedupe, replay, every bad input."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.clock import FixedClock
from app.db.models import InboxRow, MemberEvent, OutboxRow
from app.runtime import Runtime
from tests.adapters import CORP_ID
from tests.api.wecom_helpers import (
    app_crypto,
    app_request,
    text_xml,
    wecom_client,
    wecom_runtime,
)

__all__ = ["wecom_client", "wecom_runtime"]
URL = "/callbacks/wecom/app"
XXE_ENVELOPE = (
    b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Encrypt>&e;</Encrypt></xml>'
)


def _stored(runtime: Runtime) -> int:
    with runtime.deps.session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(InboxRow)) or 0)


def test_url_verification_returns_the_plain_echo(
    wecom_client: TestClient, clock: FixedClock
) -> None:
    ts = str(int(clock.now().timestamp()))
    echostr, signature = app_crypto(clock).seal(b"1616140317555161061", nonce="n", timestamp=ts)

    response = wecom_client.get(
        URL, params={"msg_signature": signature, "timestamp": ts, "nonce": "n", "echostr": echostr}
    )

    assert response.status_code == 200
    assert response.text == "1616140317555161061"  # no JSON quotes, no newline


def test_text_message_is_stored_processed_and_answered_to_the_user(
    wecom_client: TestClient, wecom_runtime: Runtime, clock: FixedClock
) -> None:
    params, body = app_request(clock, text_xml(clock, "帮助"))

    response = wecom_client.post(URL, params=params, content=body)

    assert response.status_code == 200
    assert response.content == b""
    wecom_runtime.worker.drain()
    with wecom_runtime.deps.session_factory() as session:
        reply = session.scalars(select(OutboxRow)).one()
    assert (reply.channel, reply.target) == ("wecom_app", "zhangsan")


def test_retry_with_new_nonce_has_no_second_effect(
    wecom_client: TestClient, wecom_runtime: Runtime, clock: FixedClock
) -> None:
    xml = text_xml(clock, "帮助", msg_id="777")
    params, body = app_request(clock, xml, nonce="a")
    first = wecom_client.post(URL, params=params, content=body)
    params, body = app_request(clock, xml, nonce="b")
    second = wecom_client.post(URL, params=params, content=body)

    assert first.status_code == 200
    assert second.status_code == 200
    assert _stored(wecom_runtime) == 1


def test_identical_replay_is_acknowledged_once(
    wecom_client: TestClient, wecom_runtime: Runtime, clock: FixedClock
) -> None:
    params, body = app_request(clock, text_xml(clock, "你好"))

    statuses = [wecom_client.post(URL, params=params, content=body).status_code for _ in range(3)]

    assert statuses == [200, 200, 200]
    assert _stored(wecom_runtime) == 1


def test_same_nonce_on_another_message_is_refused(
    wecom_client: TestClient, wecom_runtime: Runtime, clock: FixedClock
) -> None:
    p1, b1 = app_request(clock, text_xml(clock, "一", msg_id="1"), nonce="same")
    p2, b2 = app_request(clock, text_xml(clock, "二", msg_id="2"), nonce="same")

    assert wecom_client.post(URL, params=p1, content=b1).status_code == 200
    second = wecom_client.post(URL, params=p2, content=b2)

    assert second.status_code == 403
    assert "nonce" in second.text
    assert _stored(wecom_runtime) == 1


def test_change_external_chat_join_feeds_member_history(
    wecom_client: TestClient, wecom_runtime: Runtime, clock: FixedClock
) -> None:
    ts = int(clock.now().timestamp())
    xml = (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
        f"<CreateTime>{ts}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[change_external_chat]]></Event><ChatId><![CDATA[wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA]]></ChatId>"
        "<ChangeType><![CDATA[update]]></ChangeType><UpdateDetail><![CDATA[add_member]]></UpdateDetail>"
        "<JoinScene>1</JoinScene><MemChangeCnt>2</MemChangeCnt>"
        "<MemChangeList><Item>wmEAlECwAAHrbWYDOK5u3Af13xlYAAAA</Item><Item>wmEAlECwAAHrbWYDOK5u3Af13xlYBBBB</Item></MemChangeList>"
        "</xml>"
    )
    params, body = app_request(clock, xml)

    assert wecom_client.post(URL, params=params, content=body).status_code == 200
    wecom_runtime.worker.drain()

    with wecom_runtime.deps.session_factory() as session:
        assert session.scalars(select(MemberEvent.kind)).all() == ["join", "join"]


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        (lambda p, b: ({**p, "msg_signature": "0" * 40}, b), 403),
        (lambda p, b: ({**p, "msg_signature": p["msg_signature"].upper()}, b), 403),
        (lambda p, b: ({k: v for k, v in p.items() if k != "msg_signature"}, b), 400),
        (lambda p, b: ({**p, "timestamp": "abc"}, b), 400),
        (lambda p, b: ({**p, "nonce": p["nonce"] + "x"}, b), 403),
        (lambda p, b: (p, b.replace(b"<Encrypt>", b"<Encrypt>A")), 403),
        (lambda p, b: (p, b""), 400),
        (lambda p, b: (p, b'{"encrypt": "x"}'), 400),
        (lambda p, b: (p, b.replace(b"</xml>", b"<Encrypt>x</Encrypt></xml>")), 400),
        (
            lambda p, b: (
                p,
                b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Encrypt>&e;</Encrypt></xml>',
            ),
            400,
        ),
        (lambda p, b: (p, b"<xml>" + b"<a>" * 100 + b"</xml>"), 400),
        (
            lambda p, b: (p, b"<xml><Encrypt>" + b"A" * (10 * 1024 * 1024) + b"</Encrypt></xml>"),
            413,
        ),
    ],
)
def test_bad_requests_are_4xx_and_store_nothing(
    wecom_client: TestClient,
    wecom_runtime: Runtime,
    clock: FixedClock,
    mutate: Callable[[dict[str, str], bytes], tuple[dict[str, str], bytes]],
    status: int,
) -> None:
    params, body = mutate(*app_request(clock, text_xml(clock, "帮助")))

    response = wecom_client.post(URL, params=params, content=body)

    assert response.status_code == status
    assert response.text
    assert _stored(wecom_runtime) == 0


@pytest.mark.parametrize("offset", [-301, 301])
def test_stale_and_future_timestamps_are_refused(
    wecom_client: TestClient, wecom_runtime: Runtime, clock: FixedClock, offset: int
) -> None:
    params, body = app_request(clock, text_xml(clock, "帮助"), offset=offset)

    assert wecom_client.post(URL, params=params, content=body).status_code == 403
    assert _stored(wecom_runtime) == 0


@pytest.mark.parametrize(
    "inner",
    [
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        "<xml><MsgType>&e;</MsgType></xml>",
        '<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        "<xml><Content>&b;</Content></xml>",
        "<xml><MsgType>text</MsgType><MsgType>event</MsgType></xml>",
        "<xml><FromUserName>u</FromUserName></xml>",
        "not xml at all",
    ],
)
def test_validly_signed_bad_inner_xml_is_400(
    wecom_client: TestClient, wecom_runtime: Runtime, clock: FixedClock, inner: str
) -> None:
    params, body = app_request(clock, inner)

    assert wecom_client.post(URL, params=params, content=body).status_code == 400
    assert _stored(wecom_runtime) == 0


def test_unconfigured_channel_is_refused(client: TestClient) -> None:
    assert client.post(URL, content=b"<xml/>").status_code == 403
