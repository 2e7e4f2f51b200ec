"""抢<编号>: claim one unit in a flash sale (限时秒杀) running in this group.

Runs for a text that is a claim word followed by an item number — 抢3, 抢 3, 抢３ (full-width),
秒杀3, 抢购3号, also "@bot 抢3" from the WeCom AI bot; the words are `aliases` in
config/flash_sale.toml. Changes, through the flash-sale service and inside the inbox worker's
transaction: the order, the member's holding, the item's stock, the waitlist, the points
ledger for points-priced items, and "仅剩 N 件" / "已售罄" announcements. Always answers
(claimed with the payment link and deadline, sold out or waitlisted, not started with the
countdown, over the limit, not eligible), so the FAQ leaves the message alone; it never stops
the pipeline. Before a batch runs, `prepare` hands the batch's claims to the service, which
reads the items, holdings and keys they need in a few queries for the whole batch; claims
that get as far as taking a unit are taken together at the end of the batch (`finish`), and
only then answered.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache

from app.filters import strip_mentions
from app.handlers.points_common import event_time, member_name
from app.messages import Kind
from app.pipeline import Arrival, Context, Flow
from app.services import Services
from app.services.flash_sale_config import load_flash_sale_config
from app.services.flash_sale_replies import reply_text
from app.services.flash_sales import ClaimResult, ExpectedClaim

MAX_DIGITS = 6
MAX_LENGTH = 80  # a claim is short even with an @mention; skip normalising long texts


@lru_cache(maxsize=8)
def _longest_first(aliases: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(aliases, key=len, reverse=True))


def parse_claim(text: str, aliases: tuple[str, ...]) -> int | None:
    """The item number of a claim such as "抢3" / "秒杀 3号" / "抢＃３"; None otherwise."""
    if len(text) > MAX_LENGTH:
        return None
    text = strip_mentions(unicodedata.normalize("NFKC", text))
    for alias in _longest_first(aliases):
        if not text.startswith(alias):
            continue
        rest = text[len(alias) :].strip().removeprefix("#").removesuffix("号").strip()
        if rest.isascii() and rest.isdigit() and len(rest) <= MAX_DIGITS:
            return int(rest)
    return None


def is_claim(ctx: Context) -> bool:
    """Route filter: the message is a claim (sets `ctx.command_args` to the item number)."""
    number = parse_claim(ctx.message.text, load_flash_sale_config().aliases)
    if number is None:
        return False
    ctx.command_args = str(number)
    return True


def prepare(services: Services, arrivals: Sequence[Arrival], now: datetime) -> None:
    """Tell the service which claims the batch holds, so it reads ahead for all of them."""
    aliases = load_flash_sale_config().aliases
    claims = []
    for arrival in arrivals:
        message = arrival.message
        if message.kind is not Kind.TEXT:
            continue
        number = parse_claim(message.text, aliases)
        if number is not None:
            at = min(message.sent_at, now)
            claims.append(
                ExpectedClaim(arrival.chat_pk, arrival.member_pk, number, message.dedupe_key, at)
            )
    if claims:
        services.flash_sales.expect(claims)


def handle(ctx: Context) -> Flow:
    service = ctx.services.flash_sales
    name, give = member_name(ctx), ctx.reply_later()

    def answer(result: ClaimResult) -> None:
        give(reply_text(service.config, result, name=name, now=ctx.now, tz=service.tz))

    service.claim_later(
        ctx.member_pk,
        ctx.chat_pk,
        int(ctx.command_args),
        key=ctx.message.dedupe_key,
        at=event_time(ctx),
        then=answer,
    )
    return Flow.CONTINUE


def finish(services: Services) -> None:
    """Take the units of the batch's claims together; their replies are given then."""
    services.flash_sales.flush()
