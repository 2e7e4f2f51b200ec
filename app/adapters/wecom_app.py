"""WeCom self-built app (自建应用) callback: XML envelope and inner XML -> InboundMessage.

Runs on every POST to /callbacks/wecom/app: the route calls `parse_envelope` on the raw body,
`WeComCrypto.open` on the Encrypt text, `parse_inner` on the plaintext, then `to_message`. Pure:
nothing is stored or sent here, and we never answer with a passive reply (empty 200).

The app only sees what members send *to the app* (1:1) plus events; of the events we map the
customer-group (客户群) member changes, `change_external_chat` with UpdateDetail add_member /
del_member (document/path/92130, 96361; field names recorded in
tests/fixtures/wecom/README.md). Everything else maps to None and is acknowledged unprocessed.

XML is parsed with defusedxml and DTDs forbidden, so XXE and entity expansion never run, and
only UTF-8 is accepted. Malformed input of any kind raises `CallbackRejected`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from app.adapters.errors import bad_request, check_body_size
from app.adapters.wecom_crypto import parse_unix_seconds
from app.messages import ChatRef, InboundMessage, Kind, MemberRef, Platform

REQUIRED_INNER_FIELDS: Final = ("MsgType", "CreateTime", "FromUserName")

# Containers whose items we keep, joined with "," (WeCom ids never contain commas). Since
# WeCom 4.8 MemChangeList holds <Item> children; before that it was one comma-separated CDATA.
_LIST_FIELDS: Final = {"MemChangeList": "Item"}

_MESSAGE_KINDS: Final = {
    "text": Kind.TEXT,
    "image": Kind.IMAGE,
    "link": Kind.LINK,
    "voice": Kind.VOICE,
    "video": Kind.VIDEO,
    "file": Kind.FILE,
    "location": Kind.OTHER,
}
_MEMBER_CHANGES: Final = {"add_member": Kind.MEMBER_JOIN, "del_member": Kind.MEMBER_LEAVE}
# Extra fields worth keeping per message type; the rest of the XML is not carried along.
_EXTRA_FIELDS: Final = ("AgentID", "MediaId", "Format", "ThumbMediaId")
_EVENT_EXTRA_FIELDS: Final = ("MemChangeCnt", "JoinScene", "QuitScene", "CurMemVer")
_SYSTEM_SENDER: Final = "sys"


def parse_envelope(body: bytes) -> str:
    """The Encrypt text of a POST body `<xml>…<Encrypt>…</Encrypt>…</xml>`.

    Exactly one Encrypt element, a direct child of <xml>: a second one is rejected rather than
    picking the first, because the signature check and the decryptor must see the same value.
    """
    root = _parse_xml(body)
    found = list(root.iter("Encrypt"))
    if not found:
        raise bad_request("missing Encrypt")
    if len(found) > 1:
        raise bad_request("duplicate Encrypt")
    encrypt = found[0]
    if encrypt not in list(root) or len(encrypt):
        raise bad_request("malformed xml")
    # Base64 never contains whitespace; stripping tolerates pretty-printed bodies (as wechatpy
    # does) without letting anything else through.
    text = (encrypt.text or "").strip()
    if not text:
        raise bad_request("empty Encrypt")
    return text


def parse_inner(xml: bytes) -> dict[str, str]:
    """The decrypted message as {tag: text} of <xml>'s children.

    Nested containers are skipped (approval or batch-job events carry them and are legitimate)
    except the list fields we use; a repeated top-level element is rejected.
    """
    root = _parse_xml(xml)
    fields: dict[str, str] = {}
    for child in root:
        if child.tag in fields:
            raise bad_request("duplicate element")
        value = _field_text(child)
        if value is not None:
            fields[child.tag] = value
    for name in REQUIRED_INNER_FIELDS:
        if not fields.get(name):
            raise bad_request(f"missing {name}")
    parse_unix_seconds(fields["CreateTime"], what="CreateTime")
    return fields


def to_message(fields: Mapping[str, str]) -> InboundMessage | None:
    """Map parsed callback fields to a message; None for types and events we ignore."""
    msg_type = _require(fields, "MsgType")
    if msg_type == "event":
        return _event_message(fields)
    kind = _MESSAGE_KINDS.get(msg_type)
    if kind is None:
        return None
    user = _require(fields, "FromUserName")
    return InboundMessage(
        chat=ChatRef(Platform.WECOM_APP, chat_id=user, is_group=False),
        external_id=_require(fields, "MsgId"),
        sender_id=user,
        kind=kind,
        text=_message_text(kind, fields),
        sent_at=_sent_at(fields),
        url=fields.get("Url") or fields.get("PicUrl") or None,
        title=fields.get("Title") or None,
        extras=_extras(fields, _EXTRA_FIELDS),
    )


def event_key(fields: Mapping[str, str]) -> str:
    """A dedupe key for an event, which has no MsgId.

    WeCom suggests FromUserName+CreateTime, but every customer-contact event comes from "sys",
    so two groups changing in the same second would collide; the subject ids are added. The
    member-version hash CurMemVer, when present, separates two changes to one group in one
    second; a retry carries the same value, so retries still collapse. At most ~200 characters.
    """
    parts = (
        "Event",
        "ChangeType",
        "UpdateDetail",
        "ChatId",
        "ExternalUserID",
        "UserID",
        "CreateTime",
        "CurMemVer",
    )
    return "|".join(fields.get(name, "") for name in parts)


def _event_message(fields: Mapping[str, str]) -> InboundMessage | None:
    if fields.get("Event") != "change_external_chat" or fields.get("ChangeType") != "update":
        return None
    kind = _MEMBER_CHANGES.get(fields.get("UpdateDetail", ""))
    if kind is None:
        return None
    return InboundMessage(
        chat=ChatRef(Platform.WECOM_APP, chat_id=_require(fields, "ChatId"), is_group=True),
        external_id=event_key(fields),
        sender_id=_SYSTEM_SENDER,
        kind=kind,
        text="",
        sent_at=_sent_at(fields),
        members=tuple(MemberRef(user_id) for user_id in _split_list(fields.get("MemChangeList"))),
        extras=_extras(fields, _EVENT_EXTRA_FIELDS),
    )


def _message_text(kind: Kind, fields: Mapping[str, str]) -> str:
    match kind:
        case Kind.TEXT:
            return _require(fields, "Content").strip()
        case Kind.LINK:
            return fields.get("Description", "")
        case Kind.VOICE:
            return fields.get("Recognition", "")  # only when speech recognition is enabled
        case Kind.FILE:
            return fields.get("Title") or fields.get("FileName", "")
        case Kind.OTHER:
            return fields.get("Label", "")
        case _:
            return ""


def _parse_xml(body: bytes) -> Element:
    """Parse UTF-8 XML with DTDs (hence entities and external references) forbidden."""
    check_body_size(body)
    if not body.strip():
        raise bad_request("empty body")
    try:
        # Decoding first makes UTF-8 the only encoding: expat would otherwise honour a
        # declared encoding (UTF-16 with a BOM parses), a parser differential we do not want.
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise bad_request("not utf-8") from None
    try:
        root = fromstring(text, forbid_dtd=True)
    except DefusedXmlException:
        raise bad_request("forbidden xml dtd") from None
    except (ParseError, ValueError, LookupError):
        raise bad_request("malformed xml") from None
    if root.tag != "xml":
        raise bad_request("malformed xml")
    return root


def _field_text(element: Element) -> str | None:
    """An element's text, a list field's items joined with ",", None for other containers."""
    if not len(element):
        return element.text or ""
    item_tag = _LIST_FIELDS.get(element.tag)
    if item_tag is None:
        return None
    if any(item.tag != item_tag or len(item) for item in element):
        raise bad_request(f"malformed {element.tag}")
    return ",".join((item.text or "").strip() for item in element)


def _split_list(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _require(fields: Mapping[str, str], name: str) -> str:
    value = fields.get(name)
    if not value:
        raise bad_request(f"missing {name}")
    return value


def _sent_at(fields: Mapping[str, str]) -> datetime:
    seconds = parse_unix_seconds(_require(fields, "CreateTime"), what="CreateTime")
    return datetime.fromtimestamp(seconds, tz=UTC)


def _extras(fields: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    return {name: fields[name] for name in names if fields.get(name)}
