"""Logging setup with a filter that masks phone numbers and credentials in every record."""

from __future__ import annotations

import logging
import re

_PHONE = re.compile(r"(?<![0-9])(1[3-9][0-9])[0-9]{4}([0-9]{4})(?![0-9])")
_SECRET_PARAM = re.compile(
    r"((?:access_token|corpsecret|secret|key|token|signature|msg_signature)=)[^&\s\"']+",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+")


def mask(text: str) -> str:
    """Mask mainland mobile numbers (138****1234) and token-like values."""
    text = _PHONE.sub(r"\1****\2", text)
    text = _SECRET_PARAM.sub(r"\1***", text)
    return _BEARER.sub(r"\1***", text)


class MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(MaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("httpx", "httpcore"):  # their request lines carry access tokens in URLs
        logging.getLogger(name).setLevel(logging.WARNING)
