"""The signed JSON bridge: transport (HMAC, timestamp window) and a pure mapping.

Runs in the web request for POST /callbacks/bridge, before anything is stored. It changes
nothing; it returns an `InboundMessage` or raises `CallbackRejected`.
Protocol (SPEC.md): `X-Qunyun-Timestamp` and `X-Qunyun-Signature` =
hex HMAC-SHA256(BRIDGE_SECRET, "<timestamp>.<raw body>"), one event per request.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from app.adapters.errors import CallbackRejected, bad_request, forbidden
from app.clock import Clock
from app.messages import ChatRef, InboundMessage, Kind, MemberRef, Platform, Role
from app.senders.bridge import sign_bridge

M = TypeVar("M", bound=BaseModel)
Reject = Callable[[str], CallbackRejected]
Id = Annotated[str, Field(min_length=1, max_length=128)]
Name = Annotated[str, Field(max_length=128)]
MAX_TEXT_CHARS = 20_000
# Seconds since the epoch that a sane clock could report (2001 … 2100).
MIN_EPOCH, MAX_EPOCH = 1_000_000_000, 4_102_444_800


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)


class BridgeChat(_Strict):
    id: Id
    name: Name | None = None


class BridgeSender(_Strict):
    id: Id
    name: Name | None = None
    role: Literal["member", "admin", "owner", "staff"] = "member"


class BridgePerson(_Strict):
    id: Id
    name: Name | None = None


class BridgeEvent(_Strict):
    id: Id
    type: Literal[
        "text",
        "image",
        "link",
        "mini_program",
        "card",
        "file",
        "voice",
        "video",
        "member_join",
        "member_leave",
    ]
    chat: BridgeChat | None = None
    sender: BridgeSender
    text: str = Field("", max_length=MAX_TEXT_CHARS)
    mentions: list[Id] = Field(default_factory=list, max_length=200)
    mentioned_bot: bool = False
    sent_at: int = Field(ge=MIN_EPOCH, le=MAX_EPOCH)
    url: str | None = Field(None, max_length=2048)
    title: str | None = Field(None, max_length=512)
    members: list[BridgePerson] = Field(default_factory=list, max_length=500)

    @field_validator("text")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("NUL character in text")
        return value


def verify(
    secret: bytes,
    headers_ts: str | None,
    headers_sig: str | None,
    body: bytes,
    *,
    clock: Clock,
    max_age_seconds: int,
) -> int:
    """Check the signature and the timestamp window; returns the timestamp."""
    if not headers_ts or not headers_sig:
        raise forbidden("missing X-Qunyun-Timestamp or X-Qunyun-Signature")
    if not headers_ts.isdigit() or len(headers_ts) > 12:
        raise bad_request("X-Qunyun-Timestamp is not unix seconds")
    timestamp = int(headers_ts)
    expected = sign_bridge(secret, timestamp, body)
    if not hmac.compare_digest(expected, headers_sig.strip().lower()):
        raise forbidden("bad signature")
    if max_age_seconds and abs(clock.now().timestamp() - timestamp) > max_age_seconds:
        raise forbidden("timestamp outside the allowed window")
    return timestamp


def load_object(body: bytes, reject: Reject = bad_request) -> dict[str, Any]:
    """The body as a JSON object; `reject` builds the rejection (400 for the bridge)."""
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise reject("body is not UTF-8") from None
    except json.JSONDecodeError:
        raise reject("body is not JSON") from None
    if not isinstance(data, dict):
        raise reject("body must be a JSON object")
    return data


def validated(model: type[M], data: dict[str, Any], reject: Reject = bad_request) -> M:
    """`data` as `model`; the first problem becomes the reason ("sender.role: ...")."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise reject(f"{where}: {first['msg']}") from None


def parse(body: bytes) -> BridgeEvent:
    event = validated(BridgeEvent, load_object(body))
    if event.type in ("member_join", "member_leave") and not event.members:
        raise bad_request("members: required for member_join/member_leave")
    if event.type in ("member_join", "member_leave") and event.chat is None:
        raise bad_request("chat: required for member_join/member_leave")
    return event


def to_message(event: BridgeEvent) -> InboundMessage:
    """Pure mapping from a validated bridge event to the neutral message type."""
    if event.chat is None:
        chat = ChatRef(Platform.BRIDGE, event.sender.id, is_group=False, name=event.sender.name)
    else:
        chat = ChatRef(Platform.BRIDGE, event.chat.id, is_group=True, name=event.chat.name)
    return InboundMessage(
        chat=chat,
        external_id=event.id,
        sender_id=event.sender.id,
        sender_name=event.sender.name,
        sender_role=Role(event.sender.role),
        kind=Kind(event.type),
        text=event.text.strip(),
        sent_at=datetime.fromtimestamp(event.sent_at, tz=UTC),
        mentions=tuple(event.mentions),
        mentions_bot=event.mentioned_bot or chat.is_group is False,
        url=event.url,
        title=event.title,
        members=tuple(MemberRef(p.id, p.name) for p in event.members),
    )
