"""Links: hosts found in normalised text, exact-host whitelist, short links, look-alikes."""

from __future__ import annotations

import pytest

from app.moderation.links import DomainPolicy, LinkKind, find_links, host_of_url
from app.moderation.normalize import fold


def hosts(text: str) -> list[str]:
    return [link.host for link in find_links(fold(text))]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("看这里 https://deals.example.net/a?b=1 便宜", ["deals.example.net"]),
        ("www.cheap-flowers.cn", ["www.cheap-flowers.cn"]),
        ("戳 t.cn/A6bXy9 领券", ["t.cn"]),
        ("ＳＨＯＰ．ＣＮ", ["shop.cn"]),
        ("flowers点com 打折", ["flowers.com"]),
        ("flowers 点 cn/sale", ["flowers.cn"]),
    ],
)
def test_links_are_found(text: str, expected: list[str]) -> None:
    assert hosts(text) == expected


@pytest.mark.parametrize(
    "text", ["版本3.14很好用", "node.js 教程", "图片 photo.png", "邮箱 lily@example.org", "a.b"]
)
def test_non_links_are_not_links(text: str) -> None:
    assert hosts(text) == []


def test_link_span_covers_the_path() -> None:
    text = "去 shop.cn/a/b 看"
    (link,) = find_links(text)
    assert text[link.start : link.end] == "shop.cn/a/b"


POLICY = DomainPolicy(["shop.example.com", "*.cdn.example.org"], short_hosts=["t.cn"])


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("shop.example.com", LinkKind.WHITELISTED),
        ("shop.example.com.evil.xyz", LinkKind.EXTERNAL),
        ("m.shop.example.com", LinkKind.EXTERNAL),  # exact hosts only
        ("img.cdn.example.org", LinkKind.WHITELISTED),  # explicit wildcard
        ("cdn.example.org", LinkKind.WHITELISTED),
        ("t.cn", LinkKind.SHORT),
        ("other.cn", LinkKind.EXTERNAL),
    ],
)
def test_whitelist_matches_exact_hosts(host: str, kind: LinkKind) -> None:
    assert POLICY.classify(host)[0] is kind


BRANDED = DomainPolicy(["huayu-garden.example.com"])


@pytest.mark.parametrize(
    "host",
    ["huayu-garclen.com", "huayu-gardem.cn", "huayugarden-gift.cn", "vip.huayu-garden.top"],
)
def test_imitations_of_a_whitelisted_brand_are_lookalikes(host: str) -> None:
    kind, detail = BRANDED.classify(host)
    assert kind is LinkKind.LOOKALIKE
    assert "huayugarden" in detail


def test_vv_for_w_is_a_lookalike() -> None:
    policy = DomainPolicy(["flowerworld.example.com"])
    assert policy.classify("flovverworld.com")[0] is LinkKind.LOOKALIKE


def test_unrelated_hosts_and_our_own_subdomains_are_not_lookalikes() -> None:
    assert BRANDED.classify("garden-tools.cn")[0] is LinkKind.EXTERNAL
    assert BRANDED.classify("m.huayu-garden.example.com")[0] is LinkKind.EXTERNAL


@pytest.mark.parametrize(
    ("url", "host"),
    [("https://A.Example.com/x", "a.example.com"), ("b.cn/path", "b.cn"), ("", None)],
)
def test_host_of_url(url: str, host: str | None) -> None:
    assert host_of_url(url) == host
