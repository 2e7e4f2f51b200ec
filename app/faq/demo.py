"""The demo knowledge base for `qunyun demo`: a small flower-shop FAQ (花屿花艺), written here.

`seed_demo_faq` runs inside the demo command's transaction; it upserts these entries by id, so a
second run changes nothing (and does not move the KB version).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.clock import SystemClock
from app.faq.cache import FaqIndexCache
from app.faq.index import KbEntry

DEMO_KB: tuple[KbEntry, ...] = (
    KbEntry(
        "D001",
        "运费怎么算？",
        ("配送要加钱吗", "送货收多少钱", "满多少免运费"),
        "同城 5 公里内运费 6 元，5 公里外每公里加 1 元；单笔满 168 元免运费，到店自提不收运费。",
        ("配送", "运费"),
    ),
    KbEntry(
        "D002",
        "几点前下单可以当天送到？",
        ("今天下单今天能到吗", "当日达最晚几点下单", "下午下单还能当天送吗"),
        "下午 3 点前付款的订单当天送达，3 点以后的订单排到第二天上午配送。节日当天以群公告为准。",
        ("配送", "当日达"),
    ),
    KbEntry(
        "D003",
        "积分怎么用？",
        ("积分可以抵钱吗", "积分能换什么", "积分怎么兑换"),
        "每 100 积分抵 1 元，结算时勾选“使用积分”即可；"
        "积分也能在小程序“积分商城”兑换花瓶和保鲜剂。",
        ("积分",),
    ),
    KbEntry(
        "D004",
        "鲜花收到后怎么养护？",
        ("花买回来要怎么处理", "花怎么养得久", "收到花要先做什么"),
        "拆掉包装，斜剪花茎 2 厘米，插进加了保鲜剂的清水里，放在阴凉通风处，每 1–2 天换水一次。",
        ("养护",),
    ),
    KbEntry(
        "D005",
        "门店几点营业？",
        ("店里几点开门", "晚上几点关门", "周末营业吗"),
        "门店每天 9:00–21:00 营业，周末和节假日照常营业。",
        ("门店", "营业时间"),
    ),
    KbEntry(
        "D006",
        "可以开发票吗？",
        ("怎么开发票", "能开公司抬头的发票吗", "发票多久能收到"),
        "可以开电子普通发票：订单完成后在小程序“我的-发票”里填写抬头和税号，"
        "1 个工作日内发到邮箱。",
        ("发票",),
    ),
    KbEntry(
        "D007",
        "花收到时坏了怎么办？",
        ("送来的花蔫了怎么办", "花被压坏了能赔吗", "收到的花不新鲜"),
        "签收后 24 小时内拍照发给客服，核实后免费补送一束或全额退款。",
        ("售后", "退款"),
    ),
    KbEntry(
        "D008",
        "怎么联系人工客服？",
        ("有人工吗", "客服电话多少", "怎么找真人"),
        "在群里发“转人工”加上你的问题，工作人员会在 24 小时内回复；急事请拨门店电话。",
        ("客服",),
    ),
)


def seed_demo_faq(session: Session) -> None:
    """Upsert the demo entries (idempotent)."""
    from app.services.faq import FaqService  # the service imports this package

    FaqService(session, FaqIndexCache()).import_entries(DEMO_KB, now=SystemClock().now())
