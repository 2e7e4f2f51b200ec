"""WeCom callbacks: GET URL verification and POST messages for the self-built app (XML) and
the AI bot (JSON).

Each POST is verified (signature, timestamp window), decrypted, mapped to an InboundMessage
and stored in the inbox with its nonce as a replay guard before 200 is returned. The app is
answered with an empty body (replies go out through the outbox). The AI bot is answered with an
encrypted passive stream reply when the pipeline finishes within the reply budget; otherwise
with an unfinished stream that WeCom polls, and `response_url` is the last resort.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy import select, update

from app.adapters import wecom_app, wecom_bot
from app.adapters.errors import forbidden
from app.adapters.wecom_crypto import WeComCrypto
from app.api.body import read_capped
from app.api.deps import RuntimeDep, runtime_of
from app.db.models import InboxRow, OutboxRow
from app.inbox import InboxItem, StoreOutcome
from app.messages import InboundMessage
from app.runtime import Runtime

router = APIRouter(tags=["callbacks"])
Param = Annotated[str | None, Query()]
POLL_SECONDS = 0.02


def _crypto(runtime: Runtime, channel: str) -> WeComCrypto:
    crypto = runtime.wecom_cryptos.get(channel)
    if crypto is None:
        raise forbidden(f"the WeCom {channel} callback is not configured")
    return crypto


@router.get("/callbacks/wecom/{channel}", response_class=PlainTextResponse)
def verify_url(
    channel: Annotated[str, Path(pattern="^(app|bot)$")],
    runtime: RuntimeDep,
    msg_signature: Param = None,
    timestamp: Param = None,
    nonce: Param = None,
    echostr: Param = None,
) -> PlainTextResponse:
    """URL verification for both callbacks (the app's receiveid is the corp id, the bot's "")."""
    echo = _crypto(runtime, channel).verify_url(msg_signature, timestamp, nonce, echostr)
    return PlainTextResponse(echo)  # plain text: a JSON-quoted echo fails WeCom's check


# The POST callbacks read their query parameters (msg_signature, timestamp, nonce) from the
# request rather than declaring them: WeComCrypto.open checks each one anyway, and FastAPI's
# per-parameter validation was a measurable share of a callback's cost.
@router.post("/callbacks/wecom/app")
async def receive_app(request: Request) -> Response:
    runtime = runtime_of(request)
    msg_signature, timestamp, nonce = _signed_params(request)
    crypto = _crypto(runtime, "app")
    body = await read_capped(request, runtime.settings.max_callback_body_bytes)
    plaintext = crypto.open(msg_signature, timestamp, nonce, wecom_app.parse_envelope(body))
    message = wecom_app.to_message(wecom_app.parse_inner(plaintext))
    if message is not None:
        await _store(runtime, message, f"wecom_app:{nonce}", msg_signature or "")
    return Response(status_code=200)  # empty body = no passive reply


@router.post("/callbacks/wecom/bot")
async def receive_bot(request: Request) -> Response:
    runtime = runtime_of(request)
    msg_signature, timestamp, nonce = _signed_params(request)
    crypto = _crypto(runtime, "bot")
    body = await read_capped(request, runtime.settings.max_callback_body_bytes)
    payload = wecom_bot.parse_inner(
        crypto.open(msg_signature, timestamp, nonce, wecom_bot.parse_envelope(body))
    )
    assert nonce is not None  # open() refused a request without one
    assert timestamp is not None
    stream_id = wecom_bot.stream_refresh_id(payload)
    if stream_id is None:
        message = wecom_bot.to_message(payload, received_at=runtime.deps.clock.now())
        if message is None:
            return Response(status_code=200)
        outcome = await _store(runtime, message, f"wecom_bot:{nonce}", msg_signature or "")
        stream_id = message.external_id
        if outcome is StoreOutcome.STORED:
            await _wait_processed(runtime, message.dedupe_key)
    texts, done = await asyncio.to_thread(_take_passive_replies, runtime, stream_id)
    if not texts and done:
        return Response(status_code=200)
    reply = wecom_bot.stream_reply(
        crypto,
        stream_id=stream_id,
        content="\n\n".join(texts),
        finish=done,
        nonce=nonce,
        timestamp=timestamp,
    )
    return JSONResponse(reply)


def _signed_params(request: Request) -> tuple[str | None, str | None, str | None]:
    query = request.query_params
    return query.get("msg_signature"), query.get("timestamp"), query.get("nonce")


async def _store(
    runtime: Runtime, message: InboundMessage, replay_key: str, fingerprint: str
) -> StoreOutcome:
    outcome = await runtime.writer.store(InboxItem(message, replay_key, fingerprint))
    if outcome is StoreOutcome.NONCE_REUSED:
        raise forbidden("nonce already used by another request")
    return outcome


async def _wait_processed(runtime: Runtime, dedupe_key: str) -> None:
    """Process the message now if no worker has; wait for it within the reply budget."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + runtime.settings.wecom_bot_reply_budget_seconds
    while True:
        await asyncio.to_thread(runtime.worker.process_next, dedupe_key)
        if await asyncio.to_thread(_is_processed, runtime, dedupe_key):
            return
        if loop.time() >= deadline:
            return
        await asyncio.sleep(POLL_SECONDS)  # another worker holds the row; real-time budget


def _is_processed(runtime: Runtime, dedupe_key: str) -> bool:
    with runtime.deps.session_factory() as session:
        status = session.scalar(select(InboxRow.status).where(InboxRow.dedupe_key == dedupe_key))
    return status in ("done", "failed")


def _take_passive_replies(runtime: Runtime, stream_id: str) -> tuple[list[str], bool]:
    """Claim the queued replies to this AI-bot message for the passive answer.

    Returns (texts, finished). Claiming flips them to sent in one statement, so the outbox
    never also sends them through `response_url`.
    """
    dedupe_key = f"wecom_bot:{stream_id}"
    with runtime.deps.session_factory() as session, session.begin():
        texts = session.scalars(
            update(OutboxRow)
            .where(
                OutboxRow.idempotency_key.like(f"reply:{dedupe_key}:%"),
                OutboxRow.status == "queued",
            )
            .values(status="sent", sent_at=runtime.deps.clock.now(), last_error="passive reply")
            .returning(OutboxRow.text)
        ).all()
        status = session.scalar(select(InboxRow.status).where(InboxRow.dedupe_key == dedupe_key))
    return list(texts), status in ("done", "failed", None)
