"""WeCom AI bot (智能机器人, API callback mode): JSON callbacks in, encrypted stream replies out.

Runs on every POST to /callbacks/wecom/bot: the route calls `parse_envelope` on the raw body,
`WeComCrypto.open` (receiveid "") on the encrypt text, `parse_inner` on the plaintext, then
either `stream_refresh_id` (WeCom polling a stream we started) or `to_message`. `stream_reply`
builds the encrypted JSON the route answers with. Pure: nothing is stored or sent here.

Protocol (developer.work.weixin.qq.com/document/path/100719 receive, 101031 passive reply,
101033 crypto): the bot sees group messages only when @-mentioned, so group text arrives as
"@RobotA 签到"; images, voice and files come only in single chats. A passive reply is
{"encrypt", "msgsignature", "timestamp" (int), "nonce"} signed with the bot token and reusing the
nonce of the request it answers. Malformed input of any kind raises `CallbackRejected`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final

from app.adapters.errors import bad_request, check_body_size
from app.adapters.wecom_crypto import MAX_UNIX_SECONDS, WeComCrypto, parse_unix_seconds
from app.messages import ChatRef, InboundMessage, Kind, Platform

STREAM_CONTENT_MAX_BYTES: Final = 20_480  # 101031: stream.content is at most 20480 bytes UTF-8
CHAT_TYPES: Final = frozenset({"single", "group"})

# A leading "@name" plus the space after it; WeCom often puts U+2005 there, which \s covers.
_LEADING_MENTION = re.compile(r"@\S+(?:\s+|$)")
_MEDIA_KINDS: Final = {"image": Kind.IMAGE, "voice": Kind.VOICE, "file": Kind.FILE}

JsonObject = dict[str, object]


def parse_envelope(body: bytes) -> str:
    """The encrypt string of a POST body {"encrypt": "…"}."""
    envelope = _load_object(body)
    if "encrypt" not in envelope:
        raise bad_request("missing encrypt")
    encrypt = envelope["encrypt"]
    if not isinstance(encrypt, str) or not encrypt.strip():
        raise bad_request("malformed encrypt")
    return encrypt.strip()  # base64 has no whitespace, as for the XML envelope


def parse_inner(plaintext: bytes) -> JsonObject:
    """The decrypted callback as a JSON object, with the fields we rely on checked.

    Always: msgid, aibotid, msgtype, from.userid. chattype is "single" or "group" (events such as
    enter_chat may omit it); a group callback has chatid. response_url and create_time are
    optional but typed when present.
    """
    payload = _load_object(plaintext)
    for name in ("msgid", "aibotid"):
        _text(payload, name)
    msgtype = _text(payload, "msgtype")
    _text(_object(payload, "from"), "userid", label="from.userid")
    chattype = payload.get("chattype")
    if (chattype is not None or msgtype != "event") and chattype not in CHAT_TYPES:
        raise bad_request("bad chattype")
    if chattype == "group":
        _text(payload, "chatid")
    _response_url(payload)
    _create_time(payload)
    return payload


def stream_refresh_id(payload: Mapping[str, object]) -> str | None:
    """The stream id when WeCom is asking for the next frame of a stream reply, else None."""
    if payload.get("msgtype") != "stream":
        return None
    return _text(_object(payload, "stream"), "id", label="stream.id")


def to_message(
    payload: Mapping[str, object], *, received_at: datetime, bot_name: str | None = None
) -> InboundMessage | None:
    """Map a checked callback to a message; None for stream refreshes, events and other types.

    Callbacks carry no send time, so `received_at` (the verified request timestamp or the clock)
    is used unless the payload has create_time. In groups the leading mention of the bot is
    removed from the text; pass `bot_name` when the bot's name contains spaces.
    """
    msgtype = _text(payload, "msgtype")
    content = _content(payload, msgtype)
    if content is None:
        return None
    kind, text, url = content
    user_id = _text(_object(payload, "from"), "userid", label="from.userid")
    is_group = payload.get("chattype") == "group"
    chat_id = _text(payload, "chatid") if is_group else user_id
    if is_group:
        text = strip_leading_mention(text, bot_name)
    return InboundMessage(
        chat=ChatRef(Platform.WECOM_BOT, chat_id=chat_id, is_group=is_group),
        external_id=_text(payload, "msgid"),
        sender_id=user_id,
        kind=kind,
        text=text,
        sent_at=_create_time(payload) or received_at,
        mentions_bot=is_group,  # in groups the bot only ever sees messages that @ it
        url=url,
        reply_url=_response_url(payload),
        extras=_quote_extras(payload),
    )


def strip_leading_mention(text: str, bot_name: str | None = None) -> str:
    """Text without the leading "@bot " mention, stripped of surrounding whitespace.

    With `bot_name` only exactly "@<bot_name>" is removed; without it, the first "@word".
    """
    stripped = text.strip()
    if bot_name:
        mention = f"@{bot_name}"
        rest = stripped.removeprefix(mention)
        ends_mention = rest != stripped and (not rest or rest[0].isspace())
        return rest.strip() if ends_mention else stripped
    match = _LEADING_MENTION.match(stripped)
    return stripped[match.end() :].strip() if match else stripped


def stream_reply(
    crypto: WeComCrypto,
    *,
    stream_id: str,
    content: str,
    finish: bool,
    nonce: str,
    timestamp: str | int,
) -> dict[str, str | int]:
    """The encrypted passive reply carrying one stream frame (101031 msgtype "stream").

    `content` is the whole text so far (WeCom replaces, not appends), cut to 20480 UTF-8 bytes
    on a character boundary. `nonce` must be the nonce of the request being answered.
    """
    frame: JsonObject = {
        "msgtype": "stream",
        "stream": {
            "id": stream_id,
            "finish": finish,
            "content": truncate_utf8(content, STREAM_CONTENT_MAX_BYTES),
        },
    }
    return seal_json(crypto, frame, nonce=nonce, timestamp=timestamp)


def seal_json(
    crypto: WeComCrypto, payload: Mapping[str, object], *, nonce: str, timestamp: str | int
) -> dict[str, str | int]:
    """Any passive reply payload, encrypted and signed into WeCom's JSON reply envelope."""
    # Signed over the int's own decimal text, so a request timestamp with leading zeros cannot
    # make the signature disagree with the "timestamp" number we send.
    seconds = timestamp if isinstance(timestamp, int) else parse_unix_seconds(timestamp)
    plaintext = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    encrypt, signature = crypto.seal(plaintext, nonce=nonce, timestamp=seconds)
    return {"encrypt": encrypt, "msgsignature": signature, "timestamp": seconds, "nonce": nonce}


def truncate_utf8(text: str, limit: int) -> str:
    """At most `limit` bytes of UTF-8, never splitting a character (lone surrogates become ?)."""
    encoded = text.encode("utf-8", errors="replace")
    # Only the character cut at the end can be incomplete; "ignore" drops exactly that.
    return encoded[:limit].decode("utf-8", errors="ignore")


def _content(payload: Mapping[str, object], msgtype: str) -> tuple[Kind, str, str | None] | None:
    """(kind, text, url) of a user message; None for anything that is not one."""
    if msgtype == "text":
        return Kind.TEXT, _text(_object(payload, "text"), "content", label="text.content"), None
    if msgtype == "mixed":
        return _mixed_content(payload)
    kind = _MEDIA_KINDS.get(msgtype)
    if kind is None:
        return None  # stream refresh, event, or a type newer than this adapter
    media = _object(payload, msgtype)
    text = media.get("content") if kind is Kind.VOICE else None  # voice arrives transcribed
    url = media.get("url")
    return kind, text if isinstance(text, str) else "", url if isinstance(url, str) else None


def _mixed_content(payload: Mapping[str, object]) -> tuple[Kind, str, str | None]:
    items = _object(payload, "mixed").get("msg_item")
    if not isinstance(items, list):
        raise bad_request("malformed mixed.msg_item")
    texts: list[str] = []
    for item in items:
        if not isinstance(item, dict):
            raise bad_request("malformed mixed.msg_item")
        if item.get("msgtype") == "text":
            texts.append(_text(_object(item, "text"), "content", label="text.content"))
    text = "\n".join(texts)
    return (Kind.TEXT if text.strip() else Kind.IMAGE), text, None


def _quote_extras(payload: Mapping[str, object]) -> dict[str, str]:
    quote = payload.get("quote")
    if not isinstance(quote, dict) or quote.get("msgtype") != "text":
        return {}
    quoted = quote.get("text")
    content = quoted.get("content") if isinstance(quoted, dict) else None
    return {"quote_text": content} if isinstance(content, str) else {}


def _load_object(raw: bytes) -> JsonObject:
    """A strict UTF-8 JSON object: no duplicate keys, no NaN/Infinity, bounded size and depth."""
    check_body_size(raw)
    if not raw.strip():
        raise bad_request("empty body")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request("not utf-8") from None
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constants)
    except (ValueError, RecursionError):  # syntax, 4300+ digit ints, nesting past the stack
        raise bad_request("malformed json") from None
    if not isinstance(value, dict):
        raise bad_request("json is not an object")
    return value


def _unique_keys(pairs: list[tuple[str, object]]) -> JsonObject:
    # A repeated key would let the signature-checked value and the used value differ between
    # parsers; refuse it like a second <Encrypt>.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise bad_request("duplicate json key")
    return result


def _no_constants(name: str) -> object:
    raise bad_request("malformed json")


def _text(obj: Mapping[str, object], name: str, *, label: str | None = None) -> str:
    value = obj.get(name)
    if value is None or value == "":
        raise bad_request(f"missing {label or name}")
    if not isinstance(value, str):
        raise bad_request(f"malformed {label or name}")
    return value


def _object(obj: Mapping[str, object], name: str) -> Mapping[str, object]:
    value = obj.get(name)
    if not isinstance(value, dict):
        raise bad_request(f"malformed {name}")
    return value


def _response_url(payload: Mapping[str, object]) -> str | None:
    # Replies are POSTed there, so only an https URL is acceptable even from a signed payload.
    value = payload.get("response_url")
    if value is None:
        return None
    if not (isinstance(value, str) and value.startswith("https://")):
        raise bad_request("malformed response_url")
    return value


def _create_time(payload: Mapping[str, object]) -> datetime | None:
    value = payload.get("create_time")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_UNIX_SECONDS:
        raise bad_request("malformed create_time")
    return datetime.fromtimestamp(value, tz=UTC)
