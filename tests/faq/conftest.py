"""A tiny knowledge base of our own, and an index over it shared by the FAQ tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.faq.config import FaqConfig, load_faq_config
from app.faq.index import FaqIndex, KbEntry

SHARED_FAQ = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "faq"

TINY_KB: tuple[KbEntry, ...] = (
    KbEntry(
        "S1", "配送费怎么算？", ("送货要多少钱", "满多少免运费"), "5 公里内 6 元。", ("运费",)
    ),
    KbEntry("S2", "门店几点开门？", ("几点关门", "周末营业吗"), "每天 9:00–21:00。", ("门店",)),
    KbEntry(
        "S3", "积分怎么用？", ("积分能抵现吗", "积分可以换礼品吗"), "100 积分抵 1 元。", ("积分",)
    ),
    KbEntry(
        "S4", "可以开发票吗？", ("怎么申请发票", "电子发票多久到"), "订单页申请开票。", ("发票",)
    ),
    KbEntry("S5", "怎么申请退款？", ("不想要了能退钱吗", "退款多久到账"), "原路退回。", ("退款",)),
    KbEntry("S6", "玫瑰能放几天？", ("玫瑰花期多久", "玫瑰怎么养得久"), "约 5–7 天。", ("花期",)),
    KbEntry("S7", "群里怎么签到？", ("签到有积分吗", "签到规则是什么"), "发送签到。", ("签到",)),
    KbEntry("S8", "怎么联系人工客服？", ("客服电话多少", "找真人客服"), "发送转人工。", ("客服",)),
    KbEntry(
        "S9", "几点前下单当天送到？", ("当日达截止几点", "今天下单今天能到吗"), "16:00 前。", ()
    ),
)


@pytest.fixture(scope="session")
def faq_config() -> FaqConfig:
    return load_faq_config()


@pytest.fixture(scope="session")
def tiny_index(faq_config: FaqConfig) -> FaqIndex:
    return FaqIndex.build(TINY_KB, faq_config)
