"""/callbacks/wecom/bot over HTTP: passive encrypted stream replies, refresh, dedupe."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.adapters.wecom_crypto import compute_signature
from app.clock import FixedClock
from app.db.models import OutboxRow
from app.runtime import Runtime
from tests.adapters import TOKEN
from tests.api.wecom_helpers import bot_crypto, bot_request, wecom_client, wecom_runtime

__all__ = ["wecom_client", "wecom_runtime"]
URL = "/callbacks/wecom/bot"


def _group_text(text: str, msgid: str = "m-1") -> dict[str, Any]:
    return {
        "msgid": msgid,
        "aibotid": "bot-1",
        "chatid": "wrChat1",
        "chattype": "group",
        "from": {"userid": "lisi"},
        "response_url": "https://example.invalid/resp",
        "msgtype": "text",
        "text": {"content": f"@小助手 {text}"},
    }


def _open_reply(clock: FixedClock, reply: dict[str, Any], nonce: str) -> dict[str, Any]:
    assert reply["nonce"] == nonce
    expected = compute_signature(TOKEN, str(reply["timestamp"]), nonce, reply["encrypt"])
    assert reply["msgsignature"] == expected
    plaintext = bot_crypto(clock).open(
        reply["msgsignature"], str(reply["timestamp"]), nonce, reply["encrypt"]
    )
    return json.loads(plaintext)  # type: ignore[no-any-return]


def test_group_mention_gets_a_finished_encrypted_stream_reply(
    wecom_client: TestClient, wecom_runtime: Runtime, clock: FixedClock
) -> None:
    params, body = bot_request(clock, _group_text("帮助"), nonce="nonce-7")

    response = wecom_client.post(URL, params=params, content=body)

    assert response.status_code == 200
    frame = _open_reply(clock, response.json(), "nonce-7")
    assert frame["msgtype"] == "stream"
    assert frame["stream"]["finish"] is True
    assert "签到" in frame["stream"]["content"]
    with wecom_runtime.deps.session_factory() as session:
        row = session.scalars(select(OutboxRow)).one()
    assert row.status == "sent"  # answered passively: the outbox will not use response_url
    assert wecom_runtime.outbox.drain().claimed == 0


def test_stream_refresh_gets_the_reply_when_processing_finished_later(
    wecom_client: TestClient, wecom_runtime: Runtime, clock: FixedClock
) -> None:
    from app.adapters import wecom_bot
    from app.inbox import InboxItem

    message = wecom_bot.to_message(_group_text("帮助", "m-9"), received_at=clock.now())
    assert message is not None
    wecom_runtime.writer.store_now([InboxItem(message)])  # stored, not yet processed
    refresh = {
        "msgid": "r-1",
        "aibotid": "bot-1",
        "chattype": "group",
        "chatid": "wrChat1",
        "from": {"userid": "lisi"},
        "msgtype": "stream",
        "stream": {"id": "m-9"},
    }

    params, body = bot_request(clock, refresh, nonce="r1")
    pending = _open_reply(clock, wecom_client.post(URL, params=params, content=body).json(), "r1")
    wecom_runtime.worker.drain()
    params, body = bot_request(clock, refresh, nonce="r2")
    done = _open_reply(clock, wecom_client.post(URL, params=params, content=body).json(), "r2")

    assert pending["stream"]["finish"] is False
    assert done["stream"]["finish"] is True
    assert "签到" in done["stream"]["content"]


def test_message_without_an_answer_gets_an_empty_200(
    wecom_client: TestClient, clock: FixedClock
) -> None:
    image = {
        "msgid": "img-1",
        "aibotid": "bot-1",
        "chattype": "single",
        "from": {"userid": "lisi"},
        "response_url": "https://example.invalid/resp",
        "msgtype": "image",
        "image": {"url": "https://example.invalid/encrypted-image"},
    }
    params, body = bot_request(clock, image)

    response = wecom_client.post(URL, params=params, content=body)

    assert response.status_code == 200
    assert response.content == b""


def test_json_where_the_envelope_is_bad_is_400(
    wecom_client: TestClient, clock: FixedClock
) -> None:
    params, _ = bot_request(clock, _group_text("帮助"))
    for bad in (b"<xml/>", b"[]", b'{"encrypt": 5}', b""):
        assert wecom_client.post(URL, params=params, content=bad).status_code == 400


def test_url_verification_uses_the_empty_receiveid(
    wecom_client: TestClient, clock: FixedClock
) -> None:
    ts = str(int(clock.now().timestamp()))
    echostr, signature = bot_crypto(clock).seal(b"5927782489442352469", nonce="n", timestamp=ts)
    params = {"msg_signature": signature, "timestamp": ts, "nonce": "n", "echostr": echostr}

    response = wecom_client.get(URL, params=params)
    wrong_channel = wecom_client.get("/callbacks/wecom/other", params=params)

    assert response.status_code == 200
    assert response.text == "5927782489442352469"
    assert wrong_channel.status_code == 422
