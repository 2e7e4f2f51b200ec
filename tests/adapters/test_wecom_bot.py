"""AI bot adapter: JSON envelope, payload checks, the mapping, stream refreshes and replies."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import pytest
from wechatpy.enterprise.crypto import PrpCrypto

from app.adapters.errors import CallbackRejected
from app.adapters.wecom_bot import (
    STREAM_CONTENT_MAX_BYTES,
    JsonObject,
    parse_envelope,
    parse_inner,
    stream_refresh_id,
    stream_reply,
    strip_leading_mention,
    to_message,
    truncate_utf8,
)
from app.messages import ChatRef, InboundMessage, Kind, Platform

from . import (
    CORP_ID,
    ENCODING_AES_KEY,
    NONCE,
    NOW,
    fixture,
    make_crypto,
    signed_message,
)

RECEIVED_AT = datetime(2025, 11, 22, 12, 0, tzinfo=UTC)
GROUP_CHAT = "wrpQbHEAAA4_WOa8mcR8Pusem6P8GSLA"


def _payload(name: str) -> JsonObject:
    return parse_inner(fixture(name))


def _mapped(payload: Mapping[str, object], bot_name: str | None = None) -> InboundMessage:
    message = to_message(payload, received_at=RECEIVED_AT, bot_name=bot_name)
    assert message is not None
    return message


def _rejected(call: Callable[[], object]) -> CallbackRejected:
    with pytest.raises(CallbackRejected) as caught:
        call()
    return caught.value


def _single_text(**changes: object) -> JsonObject:
    payload = json.loads(fixture("bot_single_text.json"))
    assert isinstance(payload, dict)
    payload.update(changes)
    return {key: value for key, value in payload.items() if value is not None}


def _receive(plaintext: bytes) -> InboundMessage | None:
    """The whole POST path a route runs, with the AI bot's empty receiveid."""
    signed = signed_message(plaintext, receive_id="")
    body = json.dumps({"encrypt": signed.encrypt}).encode()
    crypto = make_crypto(receive_id="")
    opened = crypto.open(
        signed.msg_signature, signed.timestamp, signed.nonce, parse_envelope(body)
    )
    return to_message(parse_inner(opened), received_at=RECEIVED_AT)


# --- envelope ---------------------------------------------------------------------------------


def test_the_envelope_yields_the_encrypt_string() -> None:
    assert parse_envelope(b'{"encrypt": "QUJDRA=="}') == "QUJDRA=="


def test_unknown_envelope_keys_are_ignored() -> None:
    assert parse_envelope(b'{"encrypt": "QUJDRA==", "tousername": "x"}') == "QUJDRA=="


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty body"),
        (b"<xml><Encrypt>QUJDRA==</Encrypt></xml>", "malformed json"),
        (b"not json", "malformed json"),
        (b'["QUJDRA=="]', "json is not an object"),
        (b'"QUJDRA=="', "json is not an object"),
        (b"{}", "missing encrypt"),
        (b'{"data": {"encrypt": "QUJDRA=="}}', "missing encrypt"),
        (b'{"encrypt": {"value": "QUJDRA=="}}', "malformed encrypt"),
        (b'{"encrypt": ["QUJDRA=="]}', "malformed encrypt"),
        (b'{"encrypt": 12345}', "malformed encrypt"),
        (b'{"encrypt": null}', "malformed encrypt"),
        (b'{"encrypt": "  "}', "malformed encrypt"),
        (b'{"encrypt": "QUJD", "encrypt": "REVG"}', "duplicate json key"),
        (b'{"encrypt": "QUJD", "n": NaN}', "malformed json"),
        (b'{"encrypt": "QUJD", "n": ' + b"1" * 5000 + b"}", "malformed json"),
        (b"[" * 30_000 + b"]" * 30_000, "malformed json"),
        (b'{"encrypt": "\xff"}', "not utf-8"),
        (b'\xef\xbb\xbf{"encrypt": "QUJD"}', "malformed json"),
    ],
    ids=[
        "empty",
        "xml",
        "garbage",
        "array",
        "string",
        "no-encrypt",
        "nested-encrypt",
        "object-encrypt",
        "list-encrypt",
        "number-encrypt",
        "null-encrypt",
        "blank-encrypt",
        "duplicate-key",
        "nan",
        "huge-int",
        "deep-nesting",
        "not-utf8",
        "bom",
    ],
)
def test_a_malformed_envelope_is_a_bad_request(body: bytes, reason: str) -> None:
    error = _rejected(lambda: parse_envelope(body))

    assert (error.status, error.reason) == (400, reason)


def test_a_10_mb_envelope_is_too_large() -> None:
    error = _rejected(lambda: parse_envelope(b'{"encrypt": "' + b"A" * 10_000_000 + b'"}'))

    assert (error.status, error.reason) == (413, "body too large")


# --- payload checks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "bot_group_text.json",
        "bot_single_text.json",
        "bot_group_mixed.json",
        "bot_single_image.json",
        "bot_single_voice.json",
        "bot_single_file.json",
        "bot_stream_refresh.json",
        "bot_enter_chat.json",
    ],
)
def test_every_fixture_passes_the_payload_checks(name: str) -> None:
    assert parse_inner(fixture(name))["msgid"]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"msgid": None}, "missing msgid"),
        ({"msgid": 42}, "malformed msgid"),
        ({"aibotid": None}, "missing aibotid"),
        ({"msgtype": None}, "missing msgtype"),
        ({"from": None}, "malformed from"),
        ({"from": "XiaoMan"}, "malformed from"),
        ({"from": {"corpid": "ww1"}}, "missing from.userid"),
        ({"chattype": None}, "bad chattype"),
        ({"chattype": "channel"}, "bad chattype"),
        ({"chattype": "group"}, "missing chatid"),
        (
            {"response_url": "http://qyapi.weixin.qq.com/cgi-bin/aibot/response"},
            "malformed response_url",
        ),
        ({"response_url": 7}, "malformed response_url"),
        ({"create_time": "1763812800"}, "malformed create_time"),
        ({"create_time": -1}, "malformed create_time"),
        ({"create_time": True}, "malformed create_time"),
        ({"create_time": 10**13}, "malformed create_time"),
    ],
    ids=lambda value: str(value)[:40],
)
def test_an_invalid_payload_is_a_bad_request(changes: dict[str, object], reason: str) -> None:
    plaintext = json.dumps(_single_text(**changes)).encode()

    error = _rejected(lambda: parse_inner(plaintext))

    assert (error.status, error.reason) == (400, reason)


@pytest.mark.parametrize(
    ("plaintext", "reason"),
    [
        ("签到".encode("gbk"), "not utf-8"),
        (b"[]", "json is not an object"),
        (b'{"msgid": "1", "msgid": "2"}', "duplicate json key"),
        (b"", "empty body"),
    ],
    ids=["gbk", "array", "duplicate-key", "empty"],
)
def test_a_validly_signed_hostile_payload_is_a_bad_request(plaintext: bytes, reason: str) -> None:
    error = _rejected(lambda: _receive(plaintext))

    assert (error.status, error.reason) == (400, reason)


def test_an_event_may_omit_chattype() -> None:
    assert "chattype" not in _payload("bot_enter_chat.json")


# --- mapping ------------------------------------------------------------------------------------


def test_a_group_at_text_maps_without_the_mention() -> None:
    message = _receive(fixture("bot_group_text.json"))

    assert message == InboundMessage(
        chat=ChatRef(Platform.WECOM_BOT, chat_id=GROUP_CHAT, is_group=True),
        external_id="CAIQ16HMjQYY/NGagIOAgAMgq4KM0AI=",
        sender_id="XiaoMan",
        kind=Kind.TEXT,
        text="签到",
        sent_at=RECEIVED_AT,
        mentions_bot=True,
        reply_url="https://qyapi.weixin.qq.com/cgi-bin/aibot/response?response_code=RESPONSECODE",
    )
    assert message.dedupe_key == "wecom_bot:CAIQ16HMjQYY/NGagIOAgAMgq4KM0AI="


def test_a_single_chat_text_keeps_its_text_and_is_one_to_one() -> None:
    message = _mapped(_payload("bot_single_text.json"))

    assert message.chat == ChatRef(Platform.WECOM_BOT, chat_id="XiaoMan", is_group=False)
    assert (message.kind, message.text, message.mentions_bot) == (Kind.TEXT, "怎么开发票", False)
    assert message.reply_url is not None


def test_a_single_chat_text_starting_with_at_is_left_alone() -> None:
    message = _mapped(_single_text(text={"content": "@所有人 怎么开发票"}))

    assert message.text == "@所有人 怎么开发票"


def test_a_mixed_message_concatenates_its_text_items() -> None:
    message = _mapped(_payload("bot_group_mixed.json"))

    assert (message.kind, message.text, message.mentions_bot) == (
        Kind.TEXT,
        "这束花\n还有货吗",
        True,
    )


def test_a_mixed_message_without_text_is_an_image() -> None:
    mixed = {"msg_item": [{"msgtype": "image", "image": {"url": "https://img"}}]}

    message = _mapped(_single_text(msgtype="mixed", text=None, mixed=mixed))

    assert (message.kind, message.text) == (Kind.IMAGE, "")


@pytest.mark.parametrize(
    ("mixed", "reason"),
    [
        ({}, "malformed mixed.msg_item"),
        ({"msg_item": "text"}, "malformed mixed.msg_item"),
        ({"msg_item": ["text"]}, "malformed mixed.msg_item"),
        ({"msg_item": [{"msgtype": "text"}]}, "malformed text"),
    ],
    ids=["no-items", "items-not-list", "item-not-object", "text-item-without-text"],
)
def test_a_malformed_mixed_message_is_a_bad_request(mixed: dict[str, object], reason: str) -> None:
    payload = _single_text(msgtype="mixed", text=None, mixed=mixed)

    error = _rejected(lambda: to_message(payload, received_at=RECEIVED_AT))

    assert (error.status, error.reason) == (400, reason)


@pytest.mark.parametrize(
    ("name", "kind", "text", "has_url"),
    [
        ("bot_single_image.json", Kind.IMAGE, "", True),
        ("bot_single_voice.json", Kind.VOICE, "我的积分有多少", False),
        ("bot_single_file.json", Kind.FILE, "", True),
    ],
)
def test_single_chat_media_map(name: str, kind: Kind, text: str, has_url: bool) -> None:
    message = _mapped(_payload(name))

    assert (message.kind, message.text, message.url is not None) == (kind, text, has_url)
    assert message.chat.is_group is False


@pytest.mark.parametrize("name", ["bot_stream_refresh.json", "bot_enter_chat.json"])
def test_stream_refreshes_and_events_are_not_messages(name: str) -> None:
    assert to_message(_payload(name), received_at=RECEIVED_AT) is None


def test_an_unknown_message_type_maps_to_none() -> None:
    payload = _single_text(msgtype="video", text=None, video={"url": "https://v"})

    assert to_message(payload, received_at=RECEIVED_AT) is None


def test_create_time_wins_over_the_receive_time() -> None:
    message = _mapped(_single_text(create_time=1763812800 - 60))

    assert message.sent_at == datetime(2025, 11, 22, 11, 59, tzinfo=UTC)


def test_a_quoted_text_is_kept_in_extras() -> None:
    quote = {"msgtype": "text", "text": {"content": "上周的活动"}}

    message = _mapped(_single_text(quote=quote))

    assert message.extras == {"quote_text": "上周的活动"}


def test_a_text_message_without_content_is_a_bad_request() -> None:
    plaintext = json.dumps(_single_text(text={})).encode()

    error = _rejected(lambda: to_message(parse_inner(plaintext), received_at=RECEIVED_AT))

    assert (error.status, error.reason) == (400, "missing text.content")


# --- mention stripping ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@RobotA 签到", "签到"),
        ("@RobotA\u2005签到", "签到"),
        ("  @RobotA\u00a0 签到 ", "签到"),
        ("@RobotA", ""),
        ("签到 @RobotA", "签到 @RobotA"),
        ("签到", "签到"),
        ("@RobotA @小满 你好", "@小满 你好"),
    ],
)
def test_the_leading_mention_is_stripped(text: str, expected: str) -> None:
    assert strip_leading_mention(text) == expected


def test_a_bot_name_with_spaces_is_stripped_whole() -> None:
    assert strip_leading_mention("@花屿 小助手 签到", "花屿 小助手") == "签到"


def test_a_bot_name_only_strips_itself() -> None:
    assert strip_leading_mention("@花屿小助手Pro 签到", "花屿小助手") == "@花屿小助手Pro 签到"
    assert strip_leading_mention("@小满 你好", "花屿小助手") == "@小满 你好"


def test_to_message_passes_the_bot_name_through() -> None:
    payload = _payload("bot_group_text.json")
    payload["text"] = {"content": "@花屿 小助手 签到"}

    assert _mapped(payload, bot_name="花屿 小助手").text == "签到"


# --- stream refresh ---------------------------------------------------------------------------


def test_a_stream_refresh_yields_its_stream_id() -> None:
    assert stream_refresh_id(_payload("bot_stream_refresh.json")) == "stream-7f3a9c1e"


def test_a_user_message_is_not_a_stream_refresh() -> None:
    assert stream_refresh_id(_payload("bot_group_text.json")) is None


@pytest.mark.parametrize("stream", [None, "stream-1", {}, {"id": 5}])
def test_a_malformed_stream_refresh_is_a_bad_request(stream: object) -> None:
    payload = _payload("bot_stream_refresh.json") | {"stream": stream}

    error = _rejected(lambda: stream_refresh_id(payload))

    assert error.status == 400


# --- passive stream reply -----------------------------------------------------------------------


def _open_reply(reply: Mapping[str, object]) -> object:
    crypto = make_crypto(receive_id="")
    plaintext = crypto.open(
        str(reply["msgsignature"]),
        str(reply["timestamp"]),
        str(reply["nonce"]),
        str(reply["encrypt"]),
    )
    return json.loads(plaintext)


def test_a_stream_reply_is_an_encrypted_signed_envelope() -> None:
    crypto = make_crypto(receive_id="")

    reply = stream_reply(
        crypto, stream_id="s-1", content="已签到 +5", finish=True, nonce=NONCE, timestamp=str(NOW)
    )

    assert set(reply) == {"encrypt", "msgsignature", "timestamp", "nonce"}
    assert (reply["timestamp"], reply["nonce"]) == (NOW, NONCE)
    assert _open_reply(reply) == {
        "msgtype": "stream",
        "stream": {"id": "s-1", "finish": True, "content": "已签到 +5"},
    }


def test_a_stream_reply_is_readable_by_wechatpy() -> None:
    reply = stream_reply(
        make_crypto(receive_id=""),
        stream_id="s-2",
        content="稍等",
        finish=False,
        nonce="n1",
        timestamp=NOW,
    )
    prp = PrpCrypto(base64.b64decode(ENCODING_AES_KEY + "="))

    plaintext = prp.decrypt(str(reply["encrypt"]), "")

    assert json.loads(plaintext)["stream"] == {"id": "s-2", "finish": False, "content": "稍等"}


def test_a_stream_reply_with_a_zero_padded_timestamp_signs_the_number_it_sends() -> None:
    reply = stream_reply(
        make_crypto(receive_id=""),
        stream_id="s",
        content="x",
        finish=True,
        nonce=NONCE,
        timestamp="0" + str(NOW),
    )

    assert reply["timestamp"] == NOW
    assert _open_reply(reply) is not None  # the signature verifies over str(NOW)


def test_a_long_reply_is_cut_to_20480_bytes_on_a_character_boundary() -> None:
    content = "花" * 10_000  # 30 000 bytes of 3-byte characters

    reply = stream_reply(
        make_crypto(receive_id=""),
        stream_id="s",
        content=content,
        finish=True,
        nonce=NONCE,
        timestamp=NOW,
    )
    sent = _open_reply(reply)

    assert isinstance(sent, dict)
    assert sent["stream"]["content"] == "花" * (STREAM_CONTENT_MAX_BYTES // 3)


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("abc", 5, "abc"),
        ("签到", 5, "签"),
        ("签到", 6, "签到"),
        ("a😀b", 4, "a"),
        ("a\ud800b", 9, "a?b"),
    ],
    ids=["short", "cut-inside-char", "exact", "cut-emoji", "lone-surrogate"],
)
def test_truncate_utf8(text: str, limit: int, expected: str) -> None:
    assert truncate_utf8(text, limit) == expected


def test_the_app_corp_id_is_not_the_bot_receiveid() -> None:
    # The bot endpoint must not accept a callback framed for the app, and vice versa.
    signed = signed_message(fixture("bot_single_text.json"), receive_id=CORP_ID)

    crypto = make_crypto(receive_id="")

    error = _rejected(
        lambda: crypto.open(signed.msg_signature, signed.timestamp, signed.nonce, signed.encrypt)
    )

    assert (error.status, error.reason) == (403, "wrong receiveid")
