"""WeCom callback crypto: signature, timestamp window, and AES-256-CBC open and seal.

Runs on every WeCom callback (self-built app XML and AI-bot JSON alike) before anything is
parsed, and when an encrypted passive reply is built. Pure: it changes nothing; its only state is
the configured secrets and an injected clock.

The protocol (developer.work.weixin.qq.com/document/path/90968, and 101033 for the AI bot):
- msg_signature = hex sha1 of the four strings (token, timestamp, nonce, encrypt), sorted and
  concatenated;
- key = b64decode(EncodingAESKey + "="), IV = key[:16], AES-256-CBC;
- plaintext = 16 random bytes | len(msg) as 4 bytes big-endian | msg | receiveid, PKCS#7-padded
  to a multiple of 32 (so the pad byte is 1..32, not 1..16 as in standard AES padding);
- receiveid is the corpid for a self-built app and "" for the AI bot.

Hardening beyond the official samples and wechatpy (reliability-and-performance.md §1.2): the
signature is checked first and in constant time, so tampered ciphertexts never reach the
decryptor; a timestamp window; strict PKCS#7 and length checks; receiveid compared in constant
time; every failure is a `CallbackRejected` (400 malformed, 403 forged/stale/misaddressed).

Signature case: WeCom sends lower-case hex and the official samples compare exactly, so only
lower-case hex is accepted; an upper-case copy of a valid signature is a 403 "bad signature".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from typing import Final

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from app.adapters.errors import MAX_BODY_BYTES, bad_request, forbidden
from app.clock import Clock

PAD_BLOCK: Final = 32  # WeCom pads to 32 bytes, not the AES block size of 16
RANDOM_BYTES: Final = 16
LENGTH_BYTES: Final = 4
MAX_UNIX_SECONDS: Final = 253_402_300_799  # 9999-12-31T23:59:59Z, the last instant datetime holds
DEFAULT_MAX_AGE_SECONDS: Final = 300

_ENCODING_AES_KEY = re.compile(r"[A-Za-z0-9+/]{43}")
_TOKEN = re.compile(r"[A-Za-z0-9]{1,32}")  # the console allows letters and digits, at most 32
_MAX_TIMESTAMP_DIGITS: Final = 12  # MAX_UNIX_SECONDS has 12 digits; longer is an overflow attempt
_MAX_SHORT_FIELD_CHARS: Final = 128  # msg_signature, timestamp, nonce are all far shorter


def decode_aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key behind a 43-character EncodingAESKey; ValueError if it is not one."""
    if not _ENCODING_AES_KEY.fullmatch(encoding_aes_key):
        raise ValueError("EncodingAESKey must be exactly 43 characters of A-Z, a-z, 0-9, + or /")
    # The appended "=" is part of the scheme. WeCom keys may have non-zero trailing bits (the
    # official example ends in "C"); Python's decoder ignores them, which is what we want.
    return base64.b64decode(encoding_aes_key + "=", validate=True)


def compute_signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """The msg_signature WeCom computes for these four strings (lower-case hex sha1)."""
    joined = "".join(sorted((token, timestamp, nonce, encrypt)))
    return hashlib.sha1(joined.encode("utf-8")).hexdigest()


def parse_unix_seconds(text: str, *, what: str = "timestamp") -> int:
    """Unix seconds from a plain decimal string; 400 "bad <what>" for anything else.

    Signs, spaces, non-ASCII digits and values past year 9999 are refused, so later datetime
    conversions cannot overflow.
    """
    if not (0 < len(text) <= _MAX_TIMESTAMP_DIGITS and text.isascii() and text.isdigit()):
        raise bad_request(f"bad {what}")
    seconds = int(text)
    if seconds > MAX_UNIX_SECONDS:
        raise bad_request(f"bad {what}")
    return seconds


class WeComCrypto:
    """One callback endpoint's secrets: Token, EncodingAESKey and the expected receiveid.

    `max_age_seconds` bounds how far the signed timestamp may be from `clock.now()`, in the past
    (a captured callback replayed later) or the future; 0 disables the window.
    """

    def __init__(
        self,
        token: str,
        encoding_aes_key: str,
        receive_id: str,
        *,
        clock: Clock,
        max_age_seconds: int = DEFAULT_MAX_AGE_SECONDS,
    ) -> None:
        if not _TOKEN.fullmatch(token):
            raise ValueError("WeCom Token must be 1-32 letters or digits")
        if max_age_seconds < 0:
            raise ValueError("max_age_seconds must be >= 0 (0 disables the window)")
        self._token = token
        self._key = decode_aes_key(encoding_aes_key)
        self._receive_id = receive_id.encode("utf-8")
        self._clock = clock
        self._max_age = max_age_seconds

    def verify_url(
        self,
        msg_signature: str | None,
        timestamp: str | None,
        nonce: str | None,
        echostr: str | None,
    ) -> str:
        """Check a GET URL verification and return the decrypted echo, to send back verbatim."""
        echo = self._verify_and_decrypt(msg_signature, timestamp, nonce, echostr, field="echostr")
        try:
            return echo.decode("utf-8")
        except UnicodeDecodeError:
            raise bad_request("bad echostr") from None

    def open(
        self,
        msg_signature: str | None,
        timestamp: str | None,
        nonce: str | None,
        encrypt: str | None,
    ) -> bytes:
        """Check a POST callback's signature and freshness, decrypt it, return the inner bytes."""
        return self._verify_and_decrypt(msg_signature, timestamp, nonce, encrypt, field="encrypt")

    def seal(
        self,
        plaintext: bytes,
        *,
        nonce: str,
        timestamp: str | int,
        random16: bytes | None = None,
    ) -> tuple[str, str]:
        """Encrypt a passive reply; returns (encrypt as base64, its msg_signature).

        `random16` is for known-answer tests only; production uses a CSPRNG prefix.
        """
        prefix = os.urandom(RANDOM_BYTES) if random16 is None else random16
        if len(prefix) != RANDOM_BYTES:
            raise ValueError("random16 must be exactly 16 bytes")
        timestamp_text = _reply_timestamp(timestamp)
        if not nonce or not nonce.isascii():
            raise ValueError("nonce must be a non-empty ASCII string")
        body = prefix + len(plaintext).to_bytes(LENGTH_BYTES, "big") + plaintext + self._receive_id
        pad = PAD_BLOCK - len(body) % PAD_BLOCK
        encryptor = self._cipher().encryptor()
        ciphertext = encryptor.update(body + bytes([pad]) * pad) + encryptor.finalize()
        encrypt = base64.b64encode(ciphertext).decode("ascii")
        return encrypt, compute_signature(self._token, timestamp_text, nonce, encrypt)

    def _verify_and_decrypt(
        self,
        msg_signature: str | None,
        timestamp: str | None,
        nonce: str | None,
        ciphertext: str | None,
        *,
        field: str,
    ) -> bytes:
        signature = _required(msg_signature, "msg_signature")
        timestamp_text = _required(timestamp, "timestamp")
        nonce_text = _required(nonce, "nonce")
        encrypt = _required(ciphertext, field, max_chars=MAX_BODY_BYTES)
        sent_at = parse_unix_seconds(timestamp_text)
        # Signature before freshness and decryption: only WeCom can make us spend AES time, and a
        # padding oracle is unreachable without the token.
        self._check_signature(signature, timestamp_text, nonce_text, encrypt)
        self._check_fresh(sent_at)
        return self._decrypt(encrypt)

    def _check_signature(self, signature: str, timestamp: str, nonce: str, encrypt: str) -> None:
        expected = compute_signature(self._token, timestamp, nonce, encrypt)
        # Constant time even though a network timing attack on sha1 is far-fetched: the token is
        # a long-lived secret and the safe compare costs nothing. Both sides are ASCII here.
        if not hmac.compare_digest(expected, signature):
            raise forbidden("bad signature")

    def _check_fresh(self, sent_at: int) -> None:
        if self._max_age == 0:
            return
        age = self._clock.now().timestamp() - sent_at
        if age > self._max_age:
            raise forbidden("stale timestamp")
        if -age > self._max_age:
            raise forbidden("future timestamp")

    def _decrypt(self, encrypt: str) -> bytes:
        try:
            ciphertext = base64.b64decode(encrypt, validate=True)
        except binascii.Error:
            raise bad_request("bad base64") from None
        # Every valid ciphertext is a non-empty multiple of 32; checking here also keeps
        # cryptography from raising its own ValueError on a partial block.
        if not ciphertext or len(ciphertext) % PAD_BLOCK:
            raise bad_request("bad ciphertext length")
        decryptor = self._cipher().decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        return self._split(_unpad(padded))

    def _split(self, plain: bytes) -> bytes:
        header = RANDOM_BYTES + LENGTH_BYTES
        if len(plain) < header:
            raise bad_request("bad message length")
        end = header + int.from_bytes(plain[RANDOM_BYTES:header], "big")
        if end > len(plain):
            raise bad_request("bad message length")
        if not hmac.compare_digest(plain[end:], self._receive_id):
            raise forbidden("wrong receiveid")
        return plain[header:end]

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:RANDOM_BYTES]))


def _required(value: str | None, name: str, *, max_chars: int = _MAX_SHORT_FIELD_CHARS) -> str:
    """A present, ASCII, bounded request field; the reason names the field."""
    if not value:
        raise bad_request(f"missing {name}")
    if len(value) > max_chars:
        raise bad_request(f"{name} too long")
    if not value.isascii():
        raise bad_request(f"malformed {name}")
    return value


def _unpad(padded: bytes) -> bytes:
    """Strict PKCS#7 for 32-byte blocks: 1 <= pad <= 32 and every pad byte equal to it."""
    pad = padded[-1]
    if not 1 <= pad <= PAD_BLOCK or padded[-pad:] != bytes([pad]) * pad:
        raise bad_request("bad padding")
    return padded[:-pad]


def _reply_timestamp(timestamp: str | int) -> str:
    """The decimal text a reply is signed over; ValueError for anything but Unix seconds."""
    text = str(timestamp)
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_UNIX_SECONDS:
        raise ValueError("timestamp must be non-negative Unix seconds")
    return text
