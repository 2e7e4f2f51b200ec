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

# TINY_KB plus distinct topics: enough phrasings (≥ 40) for leave-one-out calibration.
SMALL_KB: tuple[KbEntry, ...] = (
    *TINY_KB,
    KbEntry(
        "M1",
        "礼盒包装要加钱吗？",
        ("可以选包装纸颜色吗", "有没有礼盒", "包装怎么收费"),
        "基础包装免费，礼盒加 20 元。",
        ("包装",),
    ),
    KbEntry(
        "M2",
        "能写贺卡吗？",
        ("可以附卡片吗", "贺卡能手写吗", "卡片上写什么"),
        "每单免费附一张贺卡，可代写。",
        ("贺卡",),
    ),
    KbEntry(
        "M3",
        "会员等级怎么升？",
        ("怎么升金卡", "银卡升级要消费多少", "会员等级有哪些"),
        "累计消费满 1000 元升金卡。",
        ("会员",),
    ),
    KbEntry(
        "M4",
        "秒杀什么时候开始？",
        ("秒杀几点开抢", "每周几有秒杀", "秒杀在哪里抢"),
        "每周五晚 8 点在群里开抢。",
        ("秒杀",),
    ),
    KbEntry(
        "M5",
        "百合对猫有毒吗？",
        ("家里有猫能买百合吗", "养狗的家庭送什么花安全", "哪些花对宠物有毒"),
        "百合对猫有毒，有猫的家庭请选玫瑰。",
        ("宠物",),
    ),
    KbEntry(
        "M6",
        "下单后能改地址吗？",
        ("地址写错了怎么办", "配送前还能换收货地址吗", "怎么修改收花人电话"),
        "配送员出发前可以在订单页修改。",
        ("地址",),
    ),
)


@pytest.fixture(scope="session")
def faq_config() -> FaqConfig:
    return load_faq_config()


@pytest.fixture(scope="session")
def tiny_index(faq_config: FaqConfig) -> FaqIndex:
    return FaqIndex.build(TINY_KB, faq_config)
