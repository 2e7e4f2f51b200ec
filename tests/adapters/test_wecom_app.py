"""Self-built app adapter: envelope and inner XML parsing, hostile XML, and the mapping."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import pytest

from app.adapters.errors import MAX_BODY_BYTES, CallbackRejected
from app.adapters.wecom_app import event_key, parse_envelope, parse_inner, to_message
from app.messages import ChatRef, InboundMessage, Kind, MemberRef, Platform

from . import CORP_ID, app_body, fixture, make_crypto, signed_message

XXE = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<xml><MsgType>text</MsgType><Content>&xxe;</Content></xml>"
)
BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    + "]><xml><Encrypt>&lol9;</Encrypt></xml>"
).replace("&lol0;", "&lol;")
QUADRATIC_BLOWUP = (
    f'<!DOCTYPE xml [<!ENTITY a "{"x" * 10_000}">]><xml><Content>{"&a;" * 1000}</Content></xml>'
)
TEXT_FIELDS = (
    "<MsgType>text</MsgType><CreateTime>1763812800</CreateTime><FromUserName>u1</FromUserName>"
)


def _rejected_envelope(body: bytes) -> CallbackRejected:
    with pytest.raises(CallbackRejected) as caught:
        parse_envelope(body)
    return caught.value


def _rejected_inner(xml: bytes) -> CallbackRejected:
    with pytest.raises(CallbackRejected) as caught:
        parse_inner(xml)
    return caught.value


def _receive(inner: bytes, receive_id: str = CORP_ID) -> InboundMessage | None:
    """The whole POST path a route runs: envelope, verify+decrypt, inner parse, mapping."""
    signed = signed_message(inner, receive_id)
    encrypt = parse_envelope(app_body(signed.encrypt))
    plaintext = make_crypto().open(signed.msg_signature, signed.timestamp, signed.nonce, encrypt)
    return to_message(parse_inner(plaintext))


def _mapped(fields: Mapping[str, str]) -> InboundMessage:
    """to_message for fields that must map to a message."""
    message = to_message(fields)
    assert message is not None
    return message


def _member_event(chat_id: str, detail: str = "add_member", **extra: str) -> dict[str, str]:
    fields = {
        "ToUserName": CORP_ID,
        "FromUserName": "sys",
        "CreateTime": "1763812800",
        "MsgType": "event",
        "Event": "change_external_chat",
        "ChatId": chat_id,
        "ChangeType": "update",
        "UpdateDetail": detail,
    }
    return fields | extra


# --- outer envelope -------------------------------------------------------------------------


def test_the_envelope_yields_the_encrypt_text() -> None:
    assert parse_envelope(app_body("QUJDRA==")) == "QUJDRA=="


def test_a_pretty_printed_envelope_is_accepted() -> None:
    body = b"<xml>\n  <Encrypt>\n    <![CDATA[QUJDRA==]]>\n  </Encrypt>\n</xml>\n"

    assert parse_envelope(body) == "QUJDRA=="


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty body"),
        (b" \r\n\t", "empty body"),
        (b'{"encrypt": "QUJDRA=="}', "malformed xml"),
        (b"\x00\xff\x13garbage", "not utf-8"),
        ("<xml/>".encode("utf-16"), "not utf-8"),
        (b"<xml><ToUserName>ww1</ToUserName></xml>", "missing Encrypt"),
        (b"<xml><Encrypt>QUJD</Encrypt><Encrypt>REVG</Encrypt></xml>", "duplicate Encrypt"),
        (b"<xml><A><Encrypt>QUJD</Encrypt></A><Encrypt>REVG</Encrypt></xml>", "duplicate Encrypt"),
        (b"<xml><A><Encrypt>QUJDRA==</Encrypt></A></xml>", "malformed xml"),
        (b"<xml><Encrypt><B>QUJDRA==</B></Encrypt></xml>", "malformed xml"),
        (b"<xml><Encrypt><![CDATA[ ]]></Encrypt></xml>", "empty Encrypt"),
        (b"<root><Encrypt>QUJDRA==</Encrypt></root>", "malformed xml"),
        (b"<xml><Encrypt>QUJDRA==</Encrypt>", "malformed xml"),
        (b"<xml><Encrypt>QU\x00JD</Encrypt></xml>", "malformed xml"),
        (XXE.replace("Content", "Encrypt").encode(), "forbidden xml dtd"),
        (BILLION_LAUGHS.encode(), "forbidden xml dtd"),
        (b"<!DOCTYPE xml><xml><Encrypt>QUJDRA==</Encrypt></xml>", "forbidden xml dtd"),
    ],
    ids=[
        "empty",
        "whitespace",
        "json",
        "binary",
        "utf-16",
        "no-encrypt",
        "two-encrypt",
        "nested-and-direct-encrypt",
        "only-nested-encrypt",
        "encrypt-with-children",
        "blank-encrypt",
        "wrong-root",
        "unclosed",
        "nul-byte",
        "xxe",
        "billion-laughs",
        "doctype-without-entities",
    ],
)
def test_a_malformed_envelope_is_a_bad_request(body: bytes, reason: str) -> None:
    error = _rejected_envelope(body)

    assert (error.status, error.reason) == (400, reason)


def test_a_10_mb_body_is_too_large() -> None:
    body = app_body("QUJDRA==").replace(b"</xml>", b"<Pad>" + b"x" * 10_000_000 + b"</Pad></xml>")

    error = _rejected_envelope(body)

    assert (error.status, error.reason) == (413, "body too large")


def test_a_body_at_the_size_limit_is_parsed() -> None:
    head = app_body("QUJDRA==").replace(b"</xml>", b"<Pad>")
    body = head + b"x" * (MAX_BODY_BYTES - len(head) - len(b"</Pad></xml>")) + b"</Pad></xml>"

    assert len(body) == MAX_BODY_BYTES
    assert parse_envelope(body) == "QUJDRA=="


# --- inner XML --------------------------------------------------------------------------------


def test_the_inner_xml_becomes_flat_fields() -> None:
    fields = parse_inner(fixture("app_text.xml"))

    assert fields == {
        "ToUserName": "ww1436e0e65a779aee",
        "FromUserName": "XiaoMan",
        "CreateTime": "1763812800",
        "MsgType": "text",
        "Content": "签到",
        "MsgId": "7573839120114835456",
        "AgentID": "1000002",
    }


def test_both_member_list_formats_become_comma_separated() -> None:
    with_items = parse_inner(fixture("change_external_chat_add_member.xml"))
    legacy = parse_inner(fixture("change_external_chat_del_member_legacy.xml"))

    assert with_items["MemChangeList"] == "wmEJiCwAAA9KG2qlSq6rKwASSgAAAA,XiaoMan"
    assert legacy["MemChangeList"] == "wmEJiCwAAA9KG2qlSq6rKwASSgAAAA"


def test_unknown_nested_containers_are_skipped_not_rejected() -> None:
    # e.g. change_contact's ExtAttr or an approval event: signed by WeCom, simply not ours to map.
    xml = f"<xml>{TEXT_FIELDS}<ExtAttr><Item><Name>爱好</Name></Item></ExtAttr></xml>".encode()

    assert "ExtAttr" not in parse_inner(xml)


def test_deep_nesting_is_skipped_without_recursion() -> None:
    depth = 5_000
    xml = f"<xml>{TEXT_FIELDS}{'<a>' * depth}{'</a>' * depth}</xml>".encode()

    assert parse_inner(xml)["MsgType"] == "text"


def test_cdata_split_around_its_terminator_is_joined() -> None:
    xml = f"<xml>{TEXT_FIELDS}<Content><![CDATA[a]]]]><![CDATA[>b]]></Content></xml>".encode()

    assert parse_inner(xml)["Content"] == "a]]>b"


@pytest.mark.parametrize(
    ("xml", "reason"),
    [
        (f"<xml>{TEXT_FIELDS}<MsgType>image</MsgType></xml>", "duplicate element"),
        ("<xml><CreateTime>1</CreateTime><FromUserName>u</FromUserName></xml>", "missing MsgType"),
        ("<xml><MsgType>text</MsgType><FromUserName>u</FromUserName></xml>", "missing CreateTime"),
        ("<xml><MsgType>text</MsgType><CreateTime>1</CreateTime></xml>", "missing FromUserName"),
        (f"<xml>{TEXT_FIELDS.replace('1763812800', '-5')}</xml>", "bad CreateTime"),
        (f"<xml>{TEXT_FIELDS.replace('1763812800', '9' * 20)}</xml>", "bad CreateTime"),
        (
            f"<xml>{TEXT_FIELDS}<MemChangeList><User>a</User></MemChangeList></xml>",
            "malformed MemChangeList",
        ),
        ("<xml><Foo>1</Foo></xml>", "missing MsgType"),
    ],
    ids=[
        "duplicate-msgtype",
        "no-msgtype",
        "no-createtime",
        "no-from",
        "negative-createtime",
        "overflowing-createtime",
        "bad-member-list",
        "foreign-schema",
    ],
)
def test_an_invalid_inner_message_is_a_bad_request(xml: str, reason: str) -> None:
    error = _rejected_inner(xml.encode())

    assert (error.status, error.reason) == (400, reason)


# --- hostile inner payloads through the whole signed path (§1.6 #19-#23) -------------------


@pytest.mark.parametrize(
    ("inner", "reason"),
    [
        (
            '<?xml version="1.0" encoding="GBK"?><xml><MsgType>text</MsgType>'
            "<Content>签到</Content></xml>".encode("gbk"),
            "not utf-8",
        ),
        (XXE.encode(), "forbidden xml dtd"),
        (BILLION_LAUGHS.encode(), "forbidden xml dtd"),
        (QUADRATIC_BLOWUP.encode(), "forbidden xml dtd"),
        (b"<xml><MsgType>text</xml>", "malformed xml"),
        (b'{"MsgType": "text"}', "malformed xml"),
        (b"<xml><Content>hi</Content></xml>", "missing MsgType"),
        (b"", "empty body"),
    ],
    ids=[
        "gbk",
        "xxe",
        "billion-laughs",
        "quadratic-blowup",
        "not-well-formed",
        "json",
        "no-type",
        "empty",
    ],
)
def test_a_validly_signed_hostile_inner_payload_is_a_bad_request(
    inner: bytes, reason: str
) -> None:
    with pytest.raises(CallbackRejected) as caught:
        _receive(inner)

    assert (caught.value.status, caught.value.reason) == (400, reason)


def test_an_ai_bot_style_empty_receiveid_is_forbidden_for_the_app() -> None:
    with pytest.raises(CallbackRejected) as caught:
        _receive(fixture("app_text.xml"), receive_id="")

    assert (caught.value.status, caught.value.reason) == (403, "wrong receiveid")


# --- mapping: messages sent to the app -------------------------------------------------------


def test_a_text_message_maps_to_a_one_to_one_text() -> None:
    message = _receive(fixture("app_text.xml"))

    assert message == InboundMessage(
        chat=ChatRef(Platform.WECOM_APP, chat_id="XiaoMan", is_group=False),
        external_id="7573839120114835456",
        sender_id="XiaoMan",
        kind=Kind.TEXT,
        text="签到",
        sent_at=datetime(2025, 11, 22, 12, 0, tzinfo=UTC),
    )
    assert message.extras == {"AgentID": "1000002"}
    assert message.dedupe_key == "wecom_app:7573839120114835456"


def test_the_official_example_message_maps() -> None:
    fields = parse_inner(
        b"<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n"
        b"<FromUserName><![CDATA[mycreate]]></FromUserName>\n"
        b"<CreateTime>1409659813</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n"
        b"<Content><![CDATA[hello]]></Content>\n<MsgId>4561255354251345929</MsgId>\n"
        b"<AgentID>218</AgentID>\n</xml>"
    )

    message = _mapped(fields)

    assert (message.chat.chat_id, message.external_id, message.text) == (
        "mycreate",
        "4561255354251345929",
        "hello",
    )
    assert message.sent_at == datetime(2014, 9, 2, 12, 10, 13, tzinfo=UTC)


def test_an_image_carries_its_url_and_media_id() -> None:
    message = _mapped(parse_inner(fixture("app_image.xml")))

    assert (message.kind, message.text) == (Kind.IMAGE, "")
    assert message.url == "https://wework.qpic.cn/wwpic/123456_abcdef/0"
    assert message.extras["MediaId"] == "1Xv_Fh-r0OzGbeTMl7CuGHa3mOqcBzYp3b7a9XWo0Lk"


def test_a_link_carries_title_url_and_description() -> None:
    message = _mapped(parse_inner(fixture("app_link.xml")))

    assert (message.kind, message.title, message.url, message.text) == (
        Kind.LINK,
        "花屿十一月会员日",
        "https://example.com/members/november",
        "满 199 减 30，仅限本周",
    )


def test_a_voice_message_uses_recognition_when_present() -> None:
    plain = parse_inner(fixture("app_voice.xml"))

    without = _mapped(plain)
    with_text = _mapped(plain | {"Recognition": "我的积分"})

    assert (without.kind, without.text, without.extras["Format"]) == (Kind.VOICE, "", "amr")
    assert with_text.text == "我的积分"


@pytest.mark.parametrize(
    ("msg_type", "extra", "kind", "text"),
    [
        ("video", {"MediaId": "m", "ThumbMediaId": "t"}, Kind.VIDEO, ""),
        ("file", {"Title": "价目表.pdf"}, Kind.FILE, "价目表.pdf"),
        ("location", {"Label": "花屿门店", "Location_X": "23.1"}, Kind.OTHER, "花屿门店"),
    ],
)
def test_other_message_types_map(
    msg_type: str, extra: dict[str, str], kind: Kind, text: str
) -> None:
    fields = {"MsgType": msg_type, "CreateTime": "1", "FromUserName": "u", "MsgId": "9"} | extra

    message = _mapped(fields)

    assert (message.kind, message.text, message.external_id) == (kind, text, "9")


def test_text_is_stripped_of_surrounding_whitespace() -> None:
    fields = {"MsgType": "text", "CreateTime": "1", "FromUserName": "u", "MsgId": "9"}

    message = _mapped(fields | {"Content": "  签到 \n"})

    assert message.text == "签到"


@pytest.mark.parametrize(
    "fields",
    [
        {"MsgType": "miniprogram", "CreateTime": "1", "FromUserName": "u", "MsgId": "9"},
        {"MsgType": "event", "CreateTime": "1", "FromUserName": "u", "Event": "enter_agent"},
    ],
    ids=["unknown-type", "enter-agent"],
)
def test_types_we_do_not_handle_map_to_none(fields: dict[str, str]) -> None:
    assert to_message(fields) is None


def test_the_enter_agent_fixture_maps_to_none() -> None:
    assert to_message(parse_inner(fixture("app_enter_agent.xml"))) is None


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (
            {"MsgType": "text", "CreateTime": "1", "FromUserName": "u", "Content": "x"},
            "missing MsgId",
        ),
        (
            {"MsgType": "text", "CreateTime": "1", "FromUserName": "u", "MsgId": "9"},
            "missing Content",
        ),
        (
            {"MsgType": "text", "FromUserName": "u", "MsgId": "9", "Content": "x"},
            "missing CreateTime",
        ),
        (
            {
                "MsgType": "text",
                "CreateTime": "x",
                "FromUserName": "u",
                "MsgId": "9",
                "Content": "x",
            },
            "bad CreateTime",
        ),
        ({"CreateTime": "1"}, "missing MsgType"),
    ],
    ids=["no-msgid", "no-content", "no-createtime", "bad-createtime", "no-msgtype"],
)
def test_mapping_incomplete_fields_is_a_bad_request(fields: dict[str, str], reason: str) -> None:
    with pytest.raises(CallbackRejected) as caught:
        to_message(fields)

    assert (caught.value.status, caught.value.reason) == (400, reason)


# --- mapping: customer-group member changes ----------------------------------------------------


def test_add_member_maps_to_a_join_in_the_group() -> None:
    message = _receive(fixture("change_external_chat_add_member.xml"))

    assert message is not None
    assert message.kind is Kind.MEMBER_JOIN
    assert message.chat == ChatRef(
        Platform.WECOM_APP, chat_id="wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA", is_group=True
    )
    assert message.members == (
        MemberRef("wmEJiCwAAA9KG2qlSq6rKwASSgAAAA"),
        MemberRef("XiaoMan"),
    )
    assert (message.sender_id, message.text) == ("sys", "")
    assert message.extras == {
        "MemChangeCnt": "2",
        "JoinScene": "3",
        "CurMemVer": "ea36e8b6062b803cda0ee45e9418d637",
    }


def test_del_member_in_the_legacy_format_maps_to_a_leave() -> None:
    message = _mapped(parse_inner(fixture("change_external_chat_del_member_legacy.xml")))

    assert message.kind is Kind.MEMBER_LEAVE
    assert message.members == (MemberRef("wmEJiCwAAA9KG2qlSq6rKwASSgAAAA"),)
    assert message.extras["QuitScene"] == "1"


def test_a_member_change_without_a_member_list_has_no_members() -> None:
    message = _mapped(_member_event("wr1", MemChangeCnt="1"))

    assert message.members == ()


@pytest.mark.parametrize(
    "fields",
    [
        _member_event("wr1", "change_name"),
        _member_event("wr1", "change_owner"),
        _member_event("wr1") | {"ChangeType": "create"},
        _member_event("wr1") | {"ChangeType": "dismiss"},
        _member_event("wr1") | {"Event": "change_external_contact"},
    ],
    ids=["change-name", "change-owner", "create", "dismiss", "external-contact"],
)
def test_other_customer_events_map_to_none(fields: dict[str, str]) -> None:
    assert to_message(fields) is None


def test_the_change_name_fixture_maps_to_none() -> None:
    assert to_message(parse_inner(fixture("change_external_chat_change_name.xml"))) is None


def test_a_member_change_without_a_chat_id_is_a_bad_request() -> None:
    fields = _member_event("wr1")
    del fields["ChatId"]

    with pytest.raises(CallbackRejected) as caught:
        to_message(fields)

    assert (caught.value.status, caught.value.reason) == (400, "missing ChatId")


def test_two_groups_changing_in_the_same_second_get_different_keys() -> None:
    first = _mapped(_member_event("wrGroupA"))
    second = _mapped(_member_event("wrGroupB"))

    assert first.external_id != second.external_id
    assert first.dedupe_key != second.dedupe_key


def test_two_changes_to_one_group_in_one_second_differ_by_member_version() -> None:
    first = event_key(_member_event("wrGroupA", CurMemVer="v1"))
    second = event_key(_member_event("wrGroupA", CurMemVer="v2"))

    assert first != second


def test_a_retried_event_gets_the_same_key() -> None:
    retry = _mapped(_member_event("wrGroupA", CurMemVer="v1"))
    original = _mapped(_member_event("wrGroupA", CurMemVer="v1"))

    assert retry.external_id == original.external_id


def test_the_event_key_is_built_from_the_documented_fields() -> None:
    key = event_key(_member_event("wrGroupA", CurMemVer="v1"))

    assert key == "change_external_chat|update|add_member|wrGroupA|||1763812800|v1"
