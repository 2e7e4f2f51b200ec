"""Read a request body with a hard cap, before anything parses it (and check its signature
for the callbacks signed like the bridge)."""

from __future__ import annotations

from fastapi import Request
from pydantic import SecretStr

from app.adapters import bridge
from app.adapters.errors import TOO_LARGE, CallbackRejected, forbidden
from app.runtime import Runtime


async def signed_body(
    request: Request, runtime: Runtime, secret: SecretStr | None, not_configured: str
) -> bytes:
    """The body of a callback signed like the bridge (X-Qunyun-Timestamp/-Signature, HMAC of
    `secret`); 403 `not_configured` while the secret is unset."""
    settings = runtime.settings
    if secret is None:
        raise forbidden(not_configured)
    body = await read_capped(request, settings.max_callback_body_bytes)
    bridge.verify(
        secret.get_secret_value().encode(),
        request.headers.get("x-qunyun-timestamp"),
        request.headers.get("x-qunyun-signature"),
        body,
        clock=runtime.deps.clock,
        max_age_seconds=settings.callback_max_age_seconds,
    )
    return body


async def read_capped(request: Request, limit: int) -> bytes:
    """Refuse a declared or actual body over `limit` bytes with 413, without buffering it."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise CallbackRejected(TOO_LARGE, "body too large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise CallbackRejected(TOO_LARGE, "body too large")
        chunks.append(chunk)
    return b"".join(chunks)
