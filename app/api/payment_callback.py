"""POST /callbacks/payment: the shop's checkout (or payment glue) reports a paid flash-sale order.

Runs in the web process, once per delivery. Signed like the bridge (X-Qunyun-Timestamp,
X-Qunyun-Signature) with PAYMENT_CALLBACK_SECRET; without that setting the endpoint is off (403).
One transaction: the order goes pending → paid through the same service function as the admin
API's mark-paid; a retried delivery is answered 200 with `duplicate` and changes nothing. A
payment that no order keeps (the order was released or cancelled, or is paid under another
reference) changes nothing either: it is answered 409, logged, and the admins' chat gets a
refund notice (config/scheduler.toml [report] chat_id; only logged when none is set).
Every answer is JSON: {"ok": true, "status": …[, "duplicate": true]} or {"ok": false, "reason"}.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from app.adapters import payment
from app.adapters.errors import CallbackRejected
from app.api.body import signed_body
from app.api.deps import runtime_of
from app.api.v1.posts import get_scheduler_config
from app.db.session import transaction
from app.jobs.posts import post_to_admins
from app.jobs.registry import JobContext, SchedulerConfig
from app.runtime import Runtime
from app.services.flash_sale_config import load_flash_sale_config
from app.services.flash_sale_payments import (
    Payment,
    PaymentOutcome,
    PaymentResult,
    confirm_payment,
    refund_alert,
)

log = logging.getLogger(__name__)
router = APIRouter(tags=["callbacks"])
NOT_CONFIGURED = "payment callback is not configured (PAYMENT_CALLBACK_SECRET)"
ACCEPTED = frozenset({PaymentResult.PAID, PaymentResult.DUPLICATE})


@router.post("/callbacks/payment")
async def receive_payment(
    request: Request,
    scheduler_config: Annotated[SchedulerConfig, Depends(get_scheduler_config)],
) -> JSONResponse:
    runtime = runtime_of(request)
    try:
        paid = await _verified_payment(request, runtime)
    except CallbackRejected as error:
        return JSONResponse({"ok": False, "reason": error.reason}, status_code=error.status)
    outcome, alerted = await asyncio.to_thread(_settle, runtime, scheduler_config, paid)
    if alerted:
        runtime.outbox.wake()
    return _answer(outcome)


async def _verified_payment(request: Request, runtime: Runtime) -> Payment:
    settings = runtime.settings
    body = await signed_body(request, runtime, settings.payment_callback_secret, NOT_CONFIGURED)
    return payment.parse(
        body,
        now=runtime.deps.clock.now(),
        max_ahead_seconds=settings.callback_max_age_seconds,
    )


def _settle(
    runtime: Runtime, scheduler_config: SchedulerConfig, paid: Payment
) -> tuple[PaymentOutcome, bool]:
    """Apply the payment in one transaction; True when a refund notice was queued."""
    alerted = False
    with transaction(runtime.deps.session_factory) as session:
        outcome = confirm_payment(session, paid)
        if outcome.result not in ACCEPTED:
            # Never the payment_ref or member details: those go to the admins' chat only.
            log.warning(
                "payment not accepted",
                extra={"order_id": paid.order_id, "result": str(outcome.result)},
            )
        if outcome.needs_refund and outcome.order is not None:
            text = refund_alert(session, load_flash_sale_config(), outcome.order, paid)
            context = JobContext(runtime.deps, scheduler_config)
            key = f"alert:payment:{paid.order_id}:{paid.payment_ref}"
            alerted = post_to_admins(session, context, key=key, text=text)
    return outcome, alerted


def _answer(outcome: PaymentOutcome) -> JSONResponse:
    if outcome.result is PaymentResult.UNKNOWN_ORDER:
        return JSONResponse({"ok": False, "reason": outcome.reason}, status_code=404)
    if outcome.result not in ACCEPTED:
        return JSONResponse({"ok": False, "reason": outcome.reason}, status_code=409)
    assert outcome.order is not None
    answer: dict[str, object] = {"ok": True, "status": outcome.order.status}
    if outcome.result is PaymentResult.DUPLICATE:
        answer["duplicate"] = True
    return JSONResponse(answer)
