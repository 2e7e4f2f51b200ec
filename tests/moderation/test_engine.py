"""The content check with the shipped rules: evasions caught, honest look-alikes left alone."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from app.messages import Kind
from app.moderation.engine import ContentChecker, build_lexicon
from app.moderation.lexicon import LexiconTerm
from app.moderation.rules import RuleSet, rules_from_data
from app.moderation.verdict import ContentVerdict
from tests.moderation.conftest import shipped_data


def category(checker: ContentChecker, text: str) -> str | None:
    verdict = checker.check(text)
    return verdict.category if verdict.violation else None


def test_finds_a_banned_word_inside_a_sentence(checker: ContentChecker) -> None:
    verdict = checker.check("大家好加微信领福利")
    assert verdict.violation
    assert verdict.category == "ad"
    assert verdict.rules == ("banned_words.ad",)
    (hit,) = verdict.hits
    assert (hit.start, hit.end, hit.matched) == (3, 6, "加微信")


@pytest.mark.parametrize(
    ("text", "evasion"),
    [
        ("想要资料的 加 微 信 我发你", "spaces"),
        ("想要资料的加\u200b微\u200c信我发你", "zero-width characters"),
        ("ＶＸ：ｇａｒｄｅｎ２０２４ 每天上新", "full-width letters"),
        ("加威信领取优惠券", "homophone 威信"),
        ("加薇信领取优惠券", "homophone 薇信"),
        ("有兴趣的加V信聊", "V信"),
        ("vx: garden_2024 了解一下", "vx + id"),
        ("加🌷微🌷信送花瓶", "emoji between characters"),
        ("微✨信✨搜一下我的小店", "emoji inside a contact word"),
        ("多肉批发，电话壹叁捌-壹贰叁肆-伍陆柒捌", "大写 digits phone with an offer"),
        ("批发绿植 联系 一三八 一二三四 五六七八", "汉字 digits phone with an offer"),
        ("wxid_k2m8q9z1 加我聊", "wxid"),
        ("微信号：rose_garden8 每日特价", "微信号:"),
        ("扣扣：叁壹肆伍玖贰陆伍叁", "扣扣 + 大写 QQ number"),
        ("代購日本花器，私聊", "traditional characters"),
        ("Q群：12345678 欢迎加入", "QQ group number"),
        ("便宜的去 cheapflowers点com 看看", "点com link"),
        ("领券戳 t.cn/Ab12Cd", "short link"),
    ],
)
def test_evasions_are_caught(checker: ContentChecker, text: str, evasion: str) -> None:
    verdict = checker.check(text)
    assert verdict.violation, evasion
    assert verdict.category == "ad", evasion


@pytest.mark.parametrize(
    "text",
    [
        "买了一卷垃圾袋装剪下的枝叶",
        "门口屏幕滚动播放新品视频",
        "今天加班，晚点去店里取花",
        "活动页面 https://shop.example.com/event/spring 大家看看",
        "官网 shop.example.com 有新品",
        "wx支付一直失败怎么办",
        "外围的花瓣有点发黄要剪掉吗",
        "我妈的生日快到了，推荐什么花",
        "我的微信号换了，会员还能用吗",
        "我手机号13812345678，收货地址写错了麻烦客服改一下",
        "客服电话 400-800-1234 是官方的",
        "请问代购的种子靠谱吗",
        "以前做过微商，现在只想养花",
        "签到满一个月真的能免费领取花瓶吗？",
        "哈哈哈哈哈",
        "今天的花太美了😍😍😍",
        "V领的衣服配这束花好看吗",
        "房贷压力大，买束花治愈一下",
        "usb加湿器放在花旁边可以吗",
        "水滚开以后放凉再浇花",
        "废旧瓶子废物利用做花瓶",
        "抢2",
        "签到",
        "验证码收不到，客服能发给我吗",
        "忘记密码了怎么办，客服能告诉我吗",
        "提醒大家别把验证码告诉任何人",
        "我老公买彩票中了十块钱",
        "有事可以私聊我，我把照片发你",
    ],
)
def test_honest_look_alikes_are_not_flagged(checker: ContentChecker, text: str) -> None:
    verdict = checker.check(text)
    assert not verdict.violation, verdict.hits


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("刷单返利，一单一结", "scam"),
        ("网贷秒下款，加V详聊", "scam"),  # a loan advert with a contact is scam, not ad
        ("兼职日结 300，私聊", "scam"),
        ("请把收到的验证码发我一下", "scam"),
        ("秒杀定金转账到这个账户：6222", "scam"),
        ("煞笔客服", "abuse"),
        ("滚，别在这说话", "abuse"),
        ("都给我滚", "abuse"),
        ("滾出這個群", "abuse"),
        ("你们这垃圾店", "abuse"),
        ("s b 小助手", "abuse"),
        ("转发到8个群就有好运", "spam"),
        ("@所有人 帮我砍一刀 https://kan.example.net/x", "spam"),  # link within a request
        ("顶顶顶顶顶顶顶顶顶顶顶顶顶顶顶顶顶", "spam"),
        ("🌷🌷🌷🌷🌷🌷🌷🌷🌷🌷🌷🌷🌷🌷🌷🌷🌷🌷", "spam"),
    ],
)
def test_categories(checker: ContentChecker, text: str, expected: str) -> None:
    assert category(checker, text) == expected


def test_lookalike_domains_are_scam(checker: ContentChecker) -> None:
    verdict = checker.check("积分兑换请登录 shop-example.com.cn 领取")
    assert verdict.category == "ad"  # "shop" and "example" are too generic to be a brand
    data = shipped_data()
    data["settings"]["domain_whitelist"] = ["huayu-garden.example.com"]
    rules = rules_from_data(data)
    branded = ContentChecker(rules, build_lexicon(rules))
    verdict = branded.check("会员积分兑换请登录 huayu-gardem.com 领取")
    assert verdict.category == "scam"
    assert "imitates" in verdict.hits[0].detail


def test_warnings_may_quote_banned_words(checker: ContentChecker) -> None:
    verdict = checker.check("提醒大家：有人冒充群管理私聊拉刷单，千万别信")
    assert not verdict.violation
    assert any("quoted in a warning" in s.detail for s in verdict.signals)


def test_a_warning_with_contact_details_is_still_an_ad(checker: ContentChecker) -> None:
    verdict = checker.check("别信别人，刷单找我，vx: job_2024 日结")
    assert verdict.violation
    assert verdict.category == "scam"


def test_hits_point_into_the_original_text(checker: ContentChecker) -> None:
    text = "姐妹们 加\u200b微 信 领福利"
    verdict = checker.check(text)
    hit = next(h for h in verdict.hits if h.rule == "banned_words.ad")
    assert text[hit.start : hit.end] == hit.matched == "加\u200b微 信"


def test_weak_signals_are_kept_for_review(checker: ContentChecker) -> None:
    verdict = checker.check("请问代购的种子靠谱吗")
    assert not verdict.violation
    assert [s.rule for s in verdict.signals] == ["cue.offer"]


def test_verdict_reports_the_normalised_text(checker: ContentChecker) -> None:
    assert checker.check("ＶＸ號").normalized == "微信号"


def test_links_are_listed_with_the_whitelisted_ones_marked(checker: ContentChecker) -> None:
    verdict = checker.check("看 shop.example.com 和 other.cn")
    assert verdict.links == ("shop.example.com", "other.cn")
    assert verdict.allowed_links == ("shop.example.com",)


def test_mini_programs_and_cards(checker: ContentChecker) -> None:
    assert checker.check("", Kind.MINI_PROGRAM, title="别家花店").category == "ad"
    assert not checker.check("", Kind.MINI_PROGRAM, title="示例花店").violation
    assert checker.check("推荐一个人", Kind.CARD).rules == ("message_kinds",)
    assert not checker.check("", Kind.IMAGE).violation


def test_link_messages_are_judged_by_their_url(checker: ContentChecker) -> None:
    external = checker.check("好文分享", Kind.LINK, url="https://news.example.net/a")
    assert external.category == "ad"
    own = checker.check("新品", Kind.LINK, url="https://shop.example.com/new")
    assert not own.violation
    assert own.allowed_links == ("shop.example.com",)


def test_overlong_messages_are_spam(checker: ContentChecker) -> None:
    verdict = checker.check("".join(chr(0x4E00 + i) for i in range(1600)))
    assert verdict.rules == ("overlong",)


def test_imported_words_count_with_their_category(rules: RuleSet) -> None:
    checker = ContentChecker(rules, build_lexicon(rules, [LexiconTerm("花神教", "other")]))
    assert checker.check("欢迎加入花神教").category == "other"


def test_configured_entries_win_over_imported_duplicates(rules: RuleSet) -> None:
    lexicon = build_lexicon(rules, [LexiconTerm("外围", "other")])
    checker = ContentChecker(rules, lexicon)
    assert not checker.check("外围的叶子要剪吗").violation


def test_empty_text_is_clean(checker: ContentChecker) -> None:
    assert checker.check("") == ContentVerdict(False, None, (), "")


@pytest.mark.parametrize(
    "text",
    [
        "加" + " " * 5000 + "a",
        "v x " * 2000,
        "1 " * 3000 + "x",
        "微信:" + "a" * 5000,
        "http://" + "a-" * 3000,
        "加微信刷单" * 1000,
    ],
)
def test_pathological_messages_give_bounded_evidence(checker: ContentChecker, text: str) -> None:
    # Regex safety (no catastrophic backtracking) is checked when patterns load
    # (test_regex_safety.py); speed is measured by bench/moderation.py, not here.
    verdict = checker.check(text)
    per_rule = Counter(hit.rule for hit in verdict.hits)
    assert max(per_rule.values(), default=0) <= 10


def test_rule_sets_round_trip_through_json(rules: RuleSet) -> None:
    stored = json.loads(json.dumps(rules.model_dump(mode="json")))
    again = rules_from_data(stored)
    assert again.for_chat(None).rules == rules.for_chat(None).rules
    text = "加威信 garden_2024 领券"
    assert ContentChecker(again, build_lexicon(again)).check(text) == ContentChecker(
        rules, build_lexicon(rules)
    ).check(text)
