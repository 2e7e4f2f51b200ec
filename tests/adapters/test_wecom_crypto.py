"""WeComCrypto: official and library vectors, wechatpy as an oracle, and every hostile input.

The shared vector file is read from the sibling shared/ directory when present; the official
QDG6eK values are also copied here so they are tested without it.
"""

from __future__ import annotations

import base64
import hmac
import json
import random
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto

from app.adapters.errors import CallbackRejected
from app.adapters.wecom_crypto import (
    WeComCrypto,
    compute_signature,
    decode_aes_key,
    parse_unix_seconds,
)

from . import (
    CORP_ID,
    ENCODING_AES_KEY,
    NONCE,
    NOW,
    TOKEN,
    Signed,
    clock_at,
    encrypt_raw,
    frame,
    make_crypto,
    open_signed,
    sign,
    signed_message,
    signed_raw,
)

Vector = dict[str, str]

REPO_ROOT = Path(__file__).resolve().parents[2]
VECTORS_FILE = REPO_ROOT / ".." / "shared" / "research" / "wecom-official-vectors.json"

# Official worked example (document/path/90968 and the WXBizMsgCrypt samples), copied verbatim.
OFFICIAL_ECHO_TIMESTAMP = "1409659589"
OFFICIAL_ECHO_NONCE = "263014780"
OFFICIAL_ECHO_SIGNATURE = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
OFFICIAL_ECHOSTR = (
    "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
)
OFFICIAL_ECHO = "1616140317555161061"
OFFICIAL_POST_SIGNATURE = "477715d11cdb4164915debcba66cb864d751f3e6"
OFFICIAL_POST_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUp"
    "j911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpu"
    "e06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCK"
    "Iw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o"
    "0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs"
    "2pDBS8R07+qN+E7Q=="
)
OFFICIAL_POST_PLAINTEXT = (
    b"<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n"
    b"<FromUserName><![CDATA[mycreate]]></FromUserName>\n"
    b"<CreateTime>1409659813</CreateTime>\n"
    b"<MsgType><![CDATA[text]]></MsgType>\n"
    b"<Content><![CDATA[hello]]></Content>\n"
    b"<MsgId>4561255354251345929</MsgId>\n"
    b"<AgentID>218</AgentID>\n"
    b"</xml>"
)


def _load_vectors() -> list[Vector]:
    if not VECTORS_FILE.is_file():
        return []
    data = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
    return [{k: str(v) for k, v in vector.items()} for vector in data["vectors"]]


VECTORS = _load_vectors()
_SKIP_NO_VECTORS = pytest.mark.skip(reason="shared/research/wecom-official-vectors.json not found")


def _vector_params(keep: Callable[[Vector], bool] = lambda _: True) -> Sequence[object]:
    chosen = [pytest.param(v, id=v["id"]) for v in VECTORS if keep(v)]
    return chosen or [pytest.param({}, id="no-shared-vectors", marks=_SKIP_NO_VECTORS)]


def _crypto_for(vector: Vector, receive_id: str | None = None) -> WeComCrypto:
    return WeComCrypto(
        vector["token"],
        vector["encoding_aes_key"],
        vector["receiveid"] if receive_id is None else receive_id,
        clock=clock_at(int(vector["timestamp"])),
        max_age_seconds=300,
    )


def _open_vector(crypto: WeComCrypto, vector: Vector, *, nonce: str | None = None) -> bytes:
    args = (vector["msg_signature"], vector["timestamp"], nonce or vector["nonce"])
    if vector["kind"] == "echostr":
        return crypto.verify_url(*args, vector["encrypt"]).encode()
    return crypto.open(*args, vector["encrypt"])


def _rejected(call: Callable[[], object]) -> CallbackRejected:
    with pytest.raises(CallbackRejected) as caught:
        call()
    return caught.value


_FIELDS = ("msg_signature", "timestamp", "nonce", "encrypt")


def _astuple(signed: Signed) -> tuple[str, str, str, str]:
    return signed.msg_signature, signed.timestamp, signed.nonce, signed.encrypt


def _rest(signed: Signed) -> tuple[str, str, str]:
    return signed.timestamp, signed.nonce, signed.encrypt


# --- official values, always present ------------------------------------------------------


def test_official_signature_worked_example() -> None:
    assert (
        compute_signature(TOKEN, str(NOW), NONCE, OFFICIAL_POST_ENCRYPT) == OFFICIAL_POST_SIGNATURE
    )


def test_official_url_verification_returns_the_echo() -> None:
    crypto = make_crypto(now=int(OFFICIAL_ECHO_TIMESTAMP))

    echo = crypto.verify_url(
        OFFICIAL_ECHO_SIGNATURE, OFFICIAL_ECHO_TIMESTAMP, OFFICIAL_ECHO_NONCE, OFFICIAL_ECHOSTR
    )

    assert echo == OFFICIAL_ECHO


def test_official_post_decrypts_to_the_documented_xml() -> None:
    opened = make_crypto().open(OFFICIAL_POST_SIGNATURE, str(NOW), NONCE, OFFICIAL_POST_ENCRYPT)

    assert opened == OFFICIAL_POST_PLAINTEXT


def test_official_post_agrees_with_wechatpy() -> None:
    oracle = WeChatCrypto(TOKEN, ENCODING_AES_KEY, CORP_ID)
    body = f"<xml><Encrypt><![CDATA[{OFFICIAL_POST_ENCRYPT}]]></Encrypt></xml>"

    expected = oracle.decrypt_message(body, OFFICIAL_POST_SIGNATURE, str(NOW), NONCE)

    assert expected.encode() == OFFICIAL_POST_PLAINTEXT


def test_official_post_with_a_wrong_corp_id_is_forbidden() -> None:
    crypto = make_crypto("wx0000000000000000")

    error = _rejected(
        lambda: crypto.open(OFFICIAL_POST_SIGNATURE, str(NOW), NONCE, OFFICIAL_POST_ENCRYPT)
    )

    assert (error.status, error.reason) == (403, "wrong receiveid")


# --- every shared vector: ours, then wechatpy as the oracle -------------------------------


@pytest.mark.parametrize("vector", _vector_params())
def test_vector_signature(vector: Vector) -> None:
    computed = compute_signature(
        vector["token"], vector["timestamp"], vector["nonce"], vector["encrypt"]
    )

    assert computed == vector["msg_signature"]


@pytest.mark.parametrize("vector", _vector_params())
def test_vector_decrypts_to_the_expected_plaintext(vector: Vector) -> None:
    opened = _open_vector(_crypto_for(vector), vector)

    assert opened == vector["expected_plaintext"].encode()


@pytest.mark.parametrize("vector", _vector_params())
def test_vector_with_a_changed_nonce_is_forbidden(vector: Vector) -> None:
    error = _rejected(lambda: _open_vector(_crypto_for(vector), vector, nonce="1"))

    assert (error.status, error.reason) == (403, "bad signature")


@pytest.mark.parametrize("vector", _vector_params())
def test_vector_with_another_receiveid_is_forbidden(vector: Vector) -> None:
    crypto = _crypto_for(vector, receive_id=vector["receiveid"] + "x")

    error = _rejected(lambda: _open_vector(crypto, vector))

    assert (error.status, error.reason) == (403, "wrong receiveid")


@pytest.mark.parametrize("vector", _vector_params(lambda v: "random16" in v))
def test_vector_reencrypts_byte_exact(vector: Vector) -> None:
    encrypt, signature = _crypto_for(vector).seal(
        vector["expected_plaintext"].encode(),
        nonce=vector["nonce"],
        timestamp=vector["timestamp"],
        random16=vector["random16"].encode(),
    )

    assert (encrypt, signature) == (vector["encrypt"], vector["msg_signature"])


@pytest.mark.parametrize("vector", _vector_params(lambda v: v.get("kind") == "echostr"))
def test_vector_echo_agrees_with_wechatpy(vector: Vector) -> None:
    oracle = WeChatCrypto(vector["token"], vector["encoding_aes_key"], vector["receiveid"])

    echo = oracle.check_signature(
        vector["msg_signature"], vector["timestamp"], vector["nonce"], vector["encrypt"]
    )

    assert echo == vector["expected_plaintext"]


@pytest.mark.parametrize("vector", _vector_params(lambda v: v.get("kind") == "xml"))
def test_vector_post_agrees_with_wechatpy(vector: Vector) -> None:
    oracle = WeChatCrypto(vector["token"], vector["encoding_aes_key"], vector["receiveid"])
    body = f"<xml><Encrypt><![CDATA[{vector['encrypt']}]]></Encrypt></xml>"

    plaintext = oracle.decrypt_message(
        body, vector["msg_signature"], vector["timestamp"], vector["nonce"]
    )

    assert plaintext == vector["expected_plaintext"]


@pytest.mark.parametrize("vector", _vector_params(lambda v: v.get("kind") == "json"))
def test_vector_json_agrees_with_wechatpy_prp(vector: Vector) -> None:
    # wechatpy has no JSON-envelope wrapper; its PrpCrypto is the oracle for the AES layer.
    prp = PrpCrypto(base64.b64decode(vector["encoding_aes_key"] + "="))

    assert prp.decrypt(vector["encrypt"], vector["receiveid"]) == vector["expected_plaintext"]


@pytest.mark.parametrize("vector", _vector_params(lambda v: "random16" in v))
def test_vector_reencryption_agrees_with_wechatpy(
    vector: Vector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(PrpCrypto, "get_random_string", lambda _self: vector["random16"])
    oracle = WeChatCrypto(vector["token"], vector["encoding_aes_key"], vector["receiveid"])

    reply_xml = oracle.encrypt_message(
        vector["expected_plaintext"], vector["nonce"], vector["timestamp"]
    )

    assert f"<Encrypt><![CDATA[{vector['encrypt']}]]></Encrypt>" in reply_xml
    assert f"<MsgSignature><![CDATA[{vector['msg_signature']}]]></MsgSignature>" in reply_xml


# --- seal round trips ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "plaintext",
    [b"", b"x", "签到".encode(), b"a" * 11, b"a" * 12, b"a" * 13, b"<xml/>" * 100],
    ids=["empty", "one-byte", "chinese", "pad-1", "pad-32", "pad-31", "long"],
)
def test_seal_then_open_round_trips(plaintext: bytes) -> None:
    crypto = make_crypto()

    encrypt, signature = crypto.seal(plaintext, nonce=NONCE, timestamp=NOW)

    assert crypto.open(signature, str(NOW), NONCE, encrypt) == plaintext


def test_sealed_reply_is_readable_by_wechatpy() -> None:
    reply = "<xml><Content><![CDATA[已签到，+5 积分]]></Content></xml>"
    encrypt, signature = make_crypto().seal(reply.encode(), nonce=NONCE, timestamp=str(NOW))
    oracle = WeChatCrypto(TOKEN, ENCODING_AES_KEY, CORP_ID)
    body = f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"

    assert oracle.decrypt_message(body, signature, str(NOW), NONCE) == reply


def test_wechatpy_reply_is_readable_by_us() -> None:
    oracle = WeChatCrypto(TOKEN, ENCODING_AES_KEY, CORP_ID)
    reply_xml = oracle.encrypt_message("<xml><Content>你好</Content></xml>", NONCE, str(NOW))
    encrypt = reply_xml.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    signature = reply_xml.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]

    opened = make_crypto().open(signature, str(NOW), NONCE, encrypt)

    assert opened == "<xml><Content>你好</Content></xml>".encode()


def test_seal_uses_a_fresh_random_prefix() -> None:
    crypto = make_crypto()

    first, _ = crypto.seal(b"same", nonce=NONCE, timestamp=NOW)
    second, _ = crypto.seal(b"same", nonce=NONCE, timestamp=NOW)

    assert first != second


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"random16": b"short"}, "random16"),
        ({"timestamp": "-1"}, "timestamp"),
        ({"timestamp": "12ab"}, "timestamp"),
        ({"nonce": ""}, "nonce"),
        ({"nonce": "随机"}, "nonce"),
    ],
)
def test_seal_refuses_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"nonce": NONCE, "timestamp": NOW} | kwargs

    with pytest.raises(ValueError, match=message):
        make_crypto().seal(b"x", **arguments)  # type: ignore[arg-type]


# --- configuration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [ENCODING_AES_KEY[:-1], ENCODING_AES_KEY + "A", ENCODING_AES_KEY[:-1] + "-", "", " " * 43],
    ids=["42-chars", "44-chars", "url-safe-char", "empty", "spaces"],
)
def test_a_malformed_encoding_aes_key_is_refused_at_construction(key: str) -> None:
    with pytest.raises(ValueError, match="EncodingAESKey"):
        WeComCrypto(TOKEN, key, CORP_ID, clock=clock_at())


def test_the_encoding_aes_key_decodes_to_32_bytes() -> None:
    assert len(decode_aes_key(ENCODING_AES_KEY)) == 32


@pytest.mark.parametrize("token", ["", "a" * 33, "to ken", "令牌"])
def test_a_malformed_token_is_refused_at_construction(token: str) -> None:
    with pytest.raises(ValueError, match="Token"):
        WeComCrypto(token, ENCODING_AES_KEY, CORP_ID, clock=clock_at())


def test_a_negative_window_is_refused() -> None:
    with pytest.raises(ValueError, match="max_age_seconds"):
        WeComCrypto(TOKEN, ENCODING_AES_KEY, CORP_ID, clock=clock_at(), max_age_seconds=-1)


# --- authentication and replay (reliability-and-performance.md §1.6 #2-#8) ----------------


def _valid() -> Signed:
    return signed_message(b"<xml><MsgType>text</MsgType></xml>")


def _open(signed: Signed, crypto: WeComCrypto | None = None) -> CallbackRejected:
    return _rejected(lambda: open_signed(crypto or make_crypto(), signed))


def test_a_valid_callback_opens() -> None:
    assert open_signed(make_crypto(), _valid()) == b"<xml><MsgType>text</MsgType></xml>"


def test_one_flipped_hex_digit_is_forbidden() -> None:
    signed = _valid()
    flipped = ("0" if signed.msg_signature[0] != "0" else "1") + signed.msg_signature[1:]

    error = _open(Signed(flipped, signed.timestamp, signed.nonce, signed.encrypt))

    assert (error.status, error.reason) == (403, "bad signature")


def test_an_upper_case_signature_is_forbidden() -> None:
    # Decision: WeCom sends lower-case hex; any other spelling is not WeCom's signature.
    signed = _valid()

    error = _open(Signed(signed.msg_signature.upper(), *_rest(signed)))

    assert (error.status, error.reason) == (403, "bad signature")


@pytest.mark.parametrize("signature", ["abc", "0" * 41, "g" * 40])
def test_a_signature_of_the_wrong_shape_is_forbidden(signature: str) -> None:
    error = _open(Signed(signature, *_rest(_valid())))

    assert (error.status, error.reason) == (403, "bad signature")


def test_a_signature_of_another_body_is_forbidden() -> None:
    other = signed_message(b"<xml>other</xml>")

    error = _open(Signed(other.msg_signature, *_rest(_valid())))

    assert error.status == 403


def test_a_body_tampered_after_signing_is_forbidden() -> None:
    signed = _valid()
    tampered = signed.encrypt[:-4] + ("AAA=" if signed.encrypt[-4:] != "AAA=" else "BBB=")

    error = _open(Signed(signed.msg_signature, signed.timestamp, signed.nonce, tampered))

    assert (error.status, error.reason) == (403, "bad signature")


@pytest.mark.parametrize("field", ["msg_signature", "timestamp", "nonce", "encrypt"])
@pytest.mark.parametrize("missing", [None, ""])
def test_a_missing_field_is_a_bad_request(field: str, missing: str | None) -> None:
    values: dict[str, str | None] = dict(zip(_FIELDS, _astuple(_valid()), strict=True))
    values[field] = missing

    error = _rejected(lambda: make_crypto().open(**values))

    assert (error.status, error.reason) == (400, f"missing {field}")


def test_a_missing_echostr_is_a_bad_request() -> None:
    error = _rejected(lambda: make_crypto().verify_url("a" * 40, str(NOW), NONCE, None))

    assert (error.status, error.reason) == (400, "missing echostr")


@pytest.mark.parametrize(
    "timestamp",
    [
        "abc",
        "-1",
        "1e9",
        "1409659813.0",
        " 1409659813",
        "9" * 13,
        "9" * 12,
        "１４０９６５９８１３",
    ],
    ids=[
        "letters",
        "negative",
        "exponent",
        "float",
        "space",
        "13-digits",
        "past-9999",
        "fullwidth",
    ],
)
def test_a_validly_signed_malformed_timestamp_is_a_bad_request(timestamp: str) -> None:
    signed = sign(encrypt_raw(frame(b"<xml/>")), timestamp=timestamp)

    error = _open(signed, make_crypto(max_age_seconds=0))

    assert error.status == 400
    assert "timestamp" in error.reason


@pytest.mark.parametrize(
    ("offset", "reason"), [(-301, "stale timestamp"), (301, "future timestamp")]
)
def test_a_timestamp_outside_the_window_is_forbidden(offset: int, reason: str) -> None:
    signed = sign(encrypt_raw(frame(b"<xml/>")), timestamp=str(NOW + offset))

    error = _open(signed)

    assert (error.status, error.reason) == (403, reason)


@pytest.mark.parametrize("offset", [-300, 300])
def test_a_timestamp_exactly_at_the_edge_is_accepted(offset: int) -> None:
    signed = sign(encrypt_raw(frame(b"<xml/>")), timestamp=str(NOW + offset))

    assert open_signed(make_crypto(), signed) == b"<xml/>"


def test_a_captured_callback_replayed_an_hour_later_is_forbidden() -> None:
    signed = _valid()

    error = _open(signed, make_crypto(now=NOW + 3600))

    assert (error.status, error.reason) == (403, "stale timestamp")


def test_a_zero_window_disables_the_freshness_check() -> None:
    signed = sign(encrypt_raw(frame(b"<xml/>")), timestamp="1")

    assert open_signed(make_crypto(max_age_seconds=0), signed) == b"<xml/>"


def test_a_non_ascii_nonce_is_a_bad_request() -> None:
    signed = sign(encrypt_raw(frame(b"<xml/>")), nonce="随机数")

    error = _open(signed)

    assert (error.status, error.reason) == (400, "malformed nonce")


def test_an_overlong_nonce_is_a_bad_request() -> None:
    error = _open(sign(encrypt_raw(frame(b"<xml/>")), nonce="1" * 129))

    assert (error.status, error.reason) == (400, "nonce too long")


# --- ciphertext, padding, framing (§1.6 #9-#18) -------------------------------------------


@pytest.mark.parametrize(
    "encrypt",
    ["not base64!", "QUJD", "QUJDRA", "QU JD RA==", "QUJD\nRA==", "-_-_", "===="],
    ids=["symbols", "3-bytes", "no-padding", "spaces", "newline", "url-safe", "only-padding"],
)
def test_validly_signed_non_base64_or_short_data_is_a_bad_request(encrypt: str) -> None:
    error = _open(sign(encrypt))

    assert error.status == 400


def test_a_truncated_ciphertext_is_a_bad_request() -> None:
    ciphertext = base64.b64decode(encrypt_raw(frame(b"<xml>hello</xml>")))

    error = _open(sign(base64.b64encode(ciphertext[:-5]).decode()))

    assert (error.status, error.reason) == (400, "bad ciphertext length")


def test_one_aes_block_dropped_is_a_bad_request() -> None:
    ciphertext = base64.b64decode(encrypt_raw(frame(b"<xml>hello</xml>")))

    error = _open(sign(base64.b64encode(ciphertext[:-16]).decode()))

    assert (error.status, error.reason) == (400, "bad ciphertext length")


def test_one_32_byte_block_dropped_is_bad_padding() -> None:
    ciphertext = base64.b64decode(encrypt_raw(frame(b"<xml>" + b"x" * 64 + b"</xml>")))

    error = _open(sign(base64.b64encode(ciphertext[:-32]).decode()))

    assert (error.status, error.reason) == (400, "bad padding")


@pytest.mark.parametrize(
    "pad",
    [b"\x00" * 2, b"\x21" * 2, b"\xc8" * 2, b"\x02\x03\x03", b"\x01\x05\x05\x05\x05"],
    ids=["pad-0", "pad-33", "pad-200", "inconsistent", "inconsistent-inner"],
)
def test_a_bad_pkcs7_pad_is_a_bad_request(pad: bytes) -> None:
    body = frame(b"<xml/>", pad=b"")
    filler = (32 - (len(body) + len(pad)) % 32) % 32
    raw = body + b"\x07" * filler + pad

    error = _open(signed_raw(raw))

    assert (error.status, error.reason) == (400, "bad padding")


def test_a_full_block_of_padding_is_accepted() -> None:
    body = frame(b"", pad=b"")  # 16 + 4 + 0 + 18 bytes of corp id = 38
    msg = b"a" * (64 - len(body))
    raw = frame(msg)

    assert raw.endswith(b"\x20" * 32)
    assert open_signed(make_crypto(), signed_raw(raw)) == msg


def test_an_empty_ciphertext_is_a_bad_request() -> None:
    error = _open(sign(""))

    assert (error.status, error.reason) == (400, "missing encrypt")


def test_a_message_length_beyond_the_payload_is_a_bad_request() -> None:
    raw = bytearray(frame(b"<xml>hello</xml>"))
    raw[16:20] = (10_000).to_bytes(4, "big")

    error = _open(signed_raw(bytes(raw)))

    assert (error.status, error.reason) == (400, "bad message length")


def test_a_plaintext_shorter_than_its_header_is_a_bad_request() -> None:
    error = _open(signed_raw(b"0123456789" + b"\x16" * 22))

    assert (error.status, error.reason) == (400, "bad message length")


@pytest.mark.parametrize(
    "receive_id",
    [b"wx0000000000000000", b"", CORP_ID.encode() + b"\x00", CORP_ID.encode()[:-1]],
    ids=["other-corp", "empty-ai-bot-style", "trailing-byte", "prefix"],
)
def test_a_wrong_receiveid_is_forbidden(receive_id: bytes) -> None:
    error = _open(signed_raw(frame(b"<xml/>", receive_id)))

    assert (error.status, error.reason) == (403, "wrong receiveid")


def test_the_ai_bot_crypto_refuses_an_app_framed_message() -> None:
    error = _open(signed_raw(frame(b"{}", CORP_ID.encode())), make_crypto(receive_id=""))

    assert (error.status, error.reason) == (403, "wrong receiveid")


def test_a_non_utf8_echo_is_a_bad_request() -> None:
    signed = signed_raw(frame(b"\xff\xfe"))

    error = _rejected(lambda: make_crypto().verify_url(*_astuple(signed)))

    assert (error.status, error.reason) == (400, "bad echostr")


def test_random_signed_ciphertexts_only_ever_raise_callback_rejected() -> None:
    rng = random.Random(20251122)
    crypto = make_crypto()
    for _ in range(300):
        size = rng.choice([16, 32, 48, 64, 96]) if rng.random() < 0.8 else rng.randrange(1, 99)
        encrypt = base64.b64encode(rng.randbytes(size)).decode()
        with pytest.raises(CallbackRejected):
            open_signed(crypto, sign(encrypt))


# --- constant-time comparisons, asserted structurally ---------------------------------------


def test_signature_and_receiveid_are_compared_with_compare_digest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[object, object]] = []
    real = hmac.compare_digest

    def spy(a: str | bytes, b: str | bytes) -> bool:
        calls.append((a, b))
        return real(a, b)  # type: ignore[arg-type]

    monkeypatch.setattr(hmac, "compare_digest", spy)
    signed = _valid()

    open_signed(make_crypto(), signed)

    assert (signed.msg_signature, signed.msg_signature) in calls
    assert (CORP_ID.encode(), CORP_ID.encode()) in calls


# --- timestamps ------------------------------------------------------------------------------


def test_parse_unix_seconds_names_the_field() -> None:
    error = _rejected(lambda: parse_unix_seconds("x", what="CreateTime"))

    assert (error.status, error.reason) == (400, "bad CreateTime")
    assert parse_unix_seconds("01409659813") == NOW
