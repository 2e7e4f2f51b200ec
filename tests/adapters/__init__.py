"""Helpers shared by the adapter tests: known secrets, a fixed clock, fixtures, and a signer.

The signer encrypts *arbitrary raw plaintext* (any framing, any padding) and signs it with the
real token, so malformed ciphertexts pass the signature check and reach the decryption and
parsing code they are meant to test (reliability-and-performance.md §1.3).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from app.adapters.wecom_crypto import WeComCrypto, compute_signature, decode_aes_key
from app.clock import FixedClock

# The official worked example of document/path/90968 (QDG6eK): public protocol constants.
TOKEN = "QDG6eK"
ENCODING_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
CORP_ID = "wx5823bf96d3bd56c7"
NOW = 1409659813
NONCE = "1372623149"
RANDOM16 = b"0123456789abcdef"

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "wecom"


@dataclass(frozen=True, slots=True)
class Signed:
    """The four values of a signed callback: query parameters plus the encrypt text."""

    msg_signature: str
    timestamp: str
    nonce: str
    encrypt: str


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def clock_at(seconds: int = NOW) -> FixedClock:
    return FixedClock(datetime.fromtimestamp(seconds, tz=UTC))


def make_crypto(
    receive_id: str = CORP_ID, *, max_age_seconds: int = 300, now: int = NOW
) -> WeComCrypto:
    return WeComCrypto(
        TOKEN,
        ENCODING_AES_KEY,
        receive_id,
        clock=clock_at(now),
        max_age_seconds=max_age_seconds,
    )


def frame(msg: bytes, receive_id: bytes = CORP_ID.encode(), *, pad: bytes | None = None) -> bytes:
    """random16 | length | msg | receiveid, then WeCom's PKCS#7 to 32 unless `pad` replaces it."""
    body = RANDOM16 + len(msg).to_bytes(4, "big") + msg + receive_id
    if pad is None:
        size = 32 - len(body) % 32
        pad = bytes([size]) * size
    return body + pad


def encrypt_raw(raw: bytes) -> str:
    """AES-256-CBC of `raw` exactly as given (a multiple of 16 bytes), base64-encoded."""
    key = decode_aes_key(ENCODING_AES_KEY)
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(raw) + encryptor.finalize()).decode("ascii")


def sign(encrypt: str, *, timestamp: str = str(NOW), nonce: str = NONCE) -> Signed:
    """Sign any encrypt text (valid or not) with the real token."""
    return Signed(compute_signature(TOKEN, timestamp, nonce, encrypt), timestamp, nonce, encrypt)


def signed_raw(raw: bytes) -> Signed:
    return sign(encrypt_raw(raw))


def signed_message(msg: bytes, receive_id: str = CORP_ID) -> Signed:
    """A well-formed callback around `msg` (which itself may be malformed XML or JSON)."""
    return signed_raw(frame(msg, receive_id.encode()))


def open_signed(crypto: WeComCrypto, signed: Signed) -> bytes:
    return crypto.open(signed.msg_signature, signed.timestamp, signed.nonce, signed.encrypt)


def app_body(encrypt: str) -> bytes:
    """The outer POST body of a self-built app callback, as WeCom sends it."""
    return (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypt}]]></Encrypt>"
        "<AgentID><![CDATA[218]]></AgentID></xml>"
    ).encode()
