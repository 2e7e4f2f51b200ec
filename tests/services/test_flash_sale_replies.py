"""Replies to 抢<编号> for the outcomes the handler tests do not reach."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.services.flash_sale_config import load_flash_sale_config
from app.services.flash_sale_replies import reply_text
from app.services.flash_sale_views import ItemView, OrderView, SaleView
from app.services.flash_sales import ClaimResult
from app.services.points_config import load_points_config
from tests.conftest import SHANGHAI

AT = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
SALE = SaleView(1, "周末秒杀", "scheduled", AT, AT + timedelta(hours=2), 15, 3, AT, True, True)
ITEM = ItemView(4, 1, 5, "多肉", 0, 200, 10, 9, 1, None, None)


def _reply(result: ClaimResult) -> str:
    return reply_text(load_flash_sale_config(), result, name="小满", now=AT, tz=SHANGHAI)


def test_not_eligible_replies_name_the_rule() -> None:
    level = _reply(ClaimResult("not_eligible", SALE, reason="level", level=1))
    joined = _reply(ClaimResult("not_eligible", SALE, reason="joined"))
    blocked = _reply(ClaimResult("not_eligible", SALE, reason="blocked"))

    assert level == "小满，本场秒杀仅限 Lv3 及以上会员参加（你当前 Lv1）。"
    assert joined == "小满，本场秒杀仅限 11月24日 10:00 前入群的会员参加。"
    assert blocked.startswith("小满，你暂时不能参加限时秒杀")


def test_points_only_claims_have_nothing_to_pay() -> None:
    order = OrderView(9, 1, 4, 1, 1, "k", "claim", "paid", 0, 200, AT, None, AT, None)

    text = _reply(ClaimResult("claimed", SALE, ITEM, order, left=9, balance=80))

    assert text == "小满 抢到啦 🎉 5号 多肉 ×1，已扣 200 积分，剩余 80 积分。"


def test_insufficient_points_and_no_sale() -> None:
    poor = _reply(ClaimResult("insufficient_points", SALE, ITEM, balance=50))
    nothing = _reply(ClaimResult("no_sale"))

    assert poor == "小满，积分不足：5号 多肉 需要 200 积分，你当前有 50 积分。"
    assert nothing == "本群当前没有限时秒杀活动。"


def test_not_started_counts_down_to_the_members_own_opening() -> None:
    lv4 = load_points_config().levels[3]
    before = AT - timedelta(minutes=20)
    config = load_flash_sale_config()
    early = ClaimResult("not_started", SALE, ITEM, opens_at=AT - timedelta(minutes=5), early=lv4)
    plain = ClaimResult("not_started", SALE, ITEM, opens_at=AT)

    early_text = reply_text(config, early, name="小满", now=before, tz=SHANGHAI)
    plain_text = reply_text(config, plain, name="小满", now=before, tz=SHANGHAI)

    assert early_text == (
        "小满，「周末秒杀」11月24日 10:00 开抢；你是 Lv4 盛放 会员，可提前 5 分钟抢"
        "（11月24日 09:55 起），还有 15 分 0 秒，到点再来哦～"
    )
    assert plain_text == "小满，「周末秒杀」11月24日 10:00 开抢，还有 20 分 0 秒，到点再来哦～"
