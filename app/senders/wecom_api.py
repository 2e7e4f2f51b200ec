"""WeCom server API plumbing shared by the WeCom senders: access tokens and error mapping.

Runs inside a sender's `send` call (the outbox dispatcher's thread). The only state is the
in-memory access-token cache of one `AccessTokenCache`; nothing is written to the database.
WeCom answers HTTP 200 with `{"errcode": …, "errmsg": …}`; `check_wecom_response` turns a
non-zero errcode into a `SendError` whose `retryable` flag tells the dispatcher what to do.
Credentials (access token, corp secret, robot key, response code) never appear in error texts.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta

import httpx

from app.clock import Clock
from app.senders.base import SendError

DEFAULT_API_BASE = "https://qyapi.weixin.qq.com"
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
TOKEN_REFRESH_MARGIN = timedelta(minutes=5)

TOKEN_ERRCODES = frozenset({40001, 40014, 42001})  # invalid credential / token, token expired
FREQUENCY_LIMIT = 45009
FREQUENCY_RETRY_AFTER = 60.0
IP_NOT_TRUSTED = 60020
TRANSIENT_ERRCODES = frozenset({-1, 45033})  # system busy, too many concurrent calls

_SECRET_PARAM = re.compile(
    r"(access_token|corpsecret|key|response_code)=[^&\s\"']+", flags=re.IGNORECASE
)
_ERRMSG_MAX = 300


class TokenExpired(SendError):
    """The access token was rejected; the caller invalidates it and retries once."""


def redact(text: str, *secrets: str) -> str:
    """`text` with credential query parameters and the given secret values masked."""
    masked = _SECRET_PARAM.sub(r"\1=***", text)
    for secret in secrets:
        if secret:
            masked = masked.replace(secret, "***")
    return masked


def check_wecom_response(response: httpx.Response) -> dict[str, object]:
    """The decoded body of a successful WeCom call, or a `SendError` that says what went wrong."""
    if not response.is_success:
        raise SendError(f"WeCom answered HTTP {response.status_code}", retryable=True)
    data = _json_object(response)
    errcode = data.get("errcode", 0)
    if errcode == 0:
        return data
    if not isinstance(errcode, int) or isinstance(errcode, bool):
        raise SendError(f"WeCom answered a non-integer errcode: {errcode!r:.40}", retryable=True)
    raise wecom_error(errcode, str(data.get("errmsg", "")))


def wecom_error(errcode: int, errmsg: str) -> SendError:
    """The `SendError` for a non-zero WeCom errcode."""
    detail = f"WeCom errcode {errcode}: {redact(errmsg)[:_ERRMSG_MAX]}"
    if errcode in TOKEN_ERRCODES:
        return TokenExpired(detail, retryable=True)
    if errcode == FREQUENCY_LIMIT:
        return SendError(detail, retryable=True, retry_after=FREQUENCY_RETRY_AFTER)
    if errcode == IP_NOT_TRUSTED:
        return SendError(
            f"{detail} — WeCom does not trust this server's egress IP: add it to the app's "
            "企业可信IP (admin console → 应用管理 → the app), then requeue the message",
            retryable=False,
        )
    return SendError(detail, retryable=errcode in TRANSIENT_ERRCODES)


def transport_error(exc: httpx.HTTPError, what: str) -> SendError:
    """The `SendError` for a request that got no HTTP answer (timeout, refused, reset, bad URL)."""
    if isinstance(exc, httpx.UnsupportedProtocol):
        return SendError(f"{what}: unsupported URL scheme", retryable=False)
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "network error"
    return SendError(f"{what}: {kind} ({type(exc).__name__}: {redact(str(exc))})", retryable=True)


def post_wecom(
    client: httpx.Client,
    url: str,
    payload: Mapping[str, object],
    *,
    params: Mapping[str, str] | None = None,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
) -> dict[str, object]:
    """POST JSON to a WeCom endpoint once and check the answer."""
    try:
        response = client.post(url, params=params, json=payload, timeout=timeout)
    except httpx.InvalidURL:
        raise SendError("WeCom call: invalid URL", retryable=False) from None
    except httpx.HTTPError as exc:
        raise transport_error(exc, "WeCom call") from None
    return check_wecom_response(response)


class AccessTokenCache:
    """One app's access token, fetched on demand and reused until shortly before it expires.

    Thread-safe: concurrent `get` calls share one `gettoken` request. Each process keeps its own
    token; WeCom allows that (a new token does not revoke the previous one early).
    """

    def __init__(
        self,
        client: httpx.Client,
        api_base: str,
        corp_id: str,
        secret: str,
        clock: Clock,
        *,
        margin: timedelta = TOKEN_REFRESH_MARGIN,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self._client = client
        self._url = f"{api_base.rstrip('/')}/cgi-bin/gettoken"
        self._corp_id = corp_id
        self._secret = secret
        self._clock = clock
        self._margin = margin
        self._timeout = timeout
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at: datetime | None = None

    def __repr__(self) -> str:
        return f"AccessTokenCache(corp_id={self._corp_id!r}, cached={self._token is not None})"

    def get(self) -> str:
        """A valid access token, from the cache or from one `gettoken` call."""
        with self._lock:
            now = self._clock.now()
            if self._token is not None and self._expires_at is not None and now < self._expires_at:
                return self._token
            token, expires_in = self._fetch()
            lifetime = timedelta(seconds=expires_in)
            self._token = token
            self._expires_at = now + max(lifetime - self._margin, lifetime / 2)
            return token

    def invalidate(self, stale: str | None = None) -> None:
        """Forget the cached token; with `stale`, only if it is still the cached one."""
        with self._lock:
            if stale is None or stale == self._token:
                self._token = None
                self._expires_at = None

    def _fetch(self) -> tuple[str, int]:
        params = {"corpid": self._corp_id, "corpsecret": self._secret}
        try:
            response = self._client.get(self._url, params=params, timeout=self._timeout)
        except httpx.InvalidURL:
            raise SendError("WeCom gettoken: invalid URL", retryable=False) from None
        except httpx.HTTPError as exc:
            raise transport_error(exc, "WeCom gettoken") from None
        try:
            data = check_wecom_response(response)
        except TokenExpired as exc:  # on gettoken, 40001 means the secret itself is wrong
            raise SendError(
                f"{redact(exc.reason, self._secret)} — check WECOM_CORP_ID and WECOM_APP_SECRET",
                retryable=False,
            ) from None
        except SendError as exc:
            raise SendError(
                redact(exc.reason, self._secret),
                retryable=exc.retryable,
                retry_after=exc.retry_after,
            ) from None
        token, expires_in = data.get("access_token"), data.get("expires_in")
        if not isinstance(token, str) or not token:
            raise SendError("WeCom gettoken answered without an access_token", retryable=True)
        if not isinstance(expires_in, int) or isinstance(expires_in, bool) or expires_in <= 0:
            raise SendError("WeCom gettoken answered without a valid expires_in", retryable=True)
        return token, expires_in


def _json_object(response: httpx.Response) -> dict[str, object]:
    try:
        data = json.loads(response.content)
    except ValueError:
        raise SendError("WeCom answered a body that is not JSON", retryable=True) from None
    if not isinstance(data, dict):
        raise SendError("WeCom answered JSON that is not an object", retryable=True)
    return data
