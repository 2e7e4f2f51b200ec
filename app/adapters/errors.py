"""The one exception an inbound adapter raises for bad input, and the body size limit.

Adapters raise `CallbackRejected` for anything malformed, forged, stale or oversized; the web
routes answer it with `status` and `reason` as the body. A 5xx would make WeCom retry three times,
so nothing else may escape an adapter for hostile input. Duplicates are not rejections: a retried
valid callback is acknowledged with 200 by the route's dedupe, never here.
"""

from __future__ import annotations

from typing import Final

BAD_REQUEST: Final = 400  # malformed: body, ciphertext, padding, XML/JSON, missing fields
FORBIDDEN: Final = 403  # not from WeCom or not for us: signature, timestamp window, receiveid
TOO_LARGE: Final = 413  # over MAX_BODY_BYTES
# Authentic request, unusable content: the payment callback's answer for a body that is not a
# valid payment notice (not JSON, missing fields, wrong types, paid_at in the future).
UNPROCESSABLE: Final = 422

# WeCom text callbacks are 0.5-3 KB; 64 KB leaves room for long events without letting a 10 MB
# body cost memory and time (reliability-and-performance.md §1.2 item 7). The route should also
# refuse a larger Content-Length before reading; this check is the backstop.
MAX_BODY_BYTES: Final = 64 * 1024

_STATUSES: Final = frozenset({BAD_REQUEST, FORBIDDEN, TOO_LARGE, UNPROCESSABLE})


class CallbackRejected(Exception):
    """A callback we refuse; answer `status` (400, 403, 413 or 422) with the short English
    `reason`."""

    status: int
    reason: str

    def __init__(self, status: int, reason: str) -> None:
        if status not in _STATUSES:
            raise ValueError(f"CallbackRejected status must be 400, 403, 413 or 422, not {status}")
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


def bad_request(reason: str) -> CallbackRejected:
    """A 400 rejection: the input is malformed."""
    return CallbackRejected(BAD_REQUEST, reason)


def forbidden(reason: str) -> CallbackRejected:
    """A 403 rejection: the input is not authentic, not fresh or not addressed to us."""
    return CallbackRejected(FORBIDDEN, reason)


def unprocessable(reason: str) -> CallbackRejected:
    """A 422 rejection: an authentic request whose body is not a valid notice."""
    return CallbackRejected(UNPROCESSABLE, reason)


def check_body_size(body: bytes) -> None:
    """Reject a body over MAX_BODY_BYTES with 413 before any parsing work."""
    if len(body) > MAX_BODY_BYTES:
        raise CallbackRejected(TOO_LARGE, "body too large")
