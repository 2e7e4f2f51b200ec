"""Read a request body with a hard cap, before anything parses it."""

from __future__ import annotations

from fastapi import Request

from app.adapters.errors import TOO_LARGE, CallbackRejected


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
