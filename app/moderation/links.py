"""Links in messages: find hosts, and judge them against the group's domain whitelist.

Runs inside the content check on the normalised text (where ``点com`` has become ``.com`` and
full-width letters are ASCII) and on the URL of link/mini-program messages. Pure functions.

The whitelist holds exact hosts: ``shop.example.com`` allows only that host, never
``shop.example.com.evil.xyz`` or ``m.shop.example.com``; write ``*.example.com`` to allow every
subdomain. A host that is not whitelisted but imitates a whitelisted brand (``huayu-flovver.com``
for ``huayu-flower``, ``huayu-flower-gift.cn``) is a look-alike: the classic phishing shape.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from rapidfuzz.distance import Levenshtein

# Common TLDs; a dotted token ending in anything else (3.14, node.js, photo.png) is not a link.
_TLD_LIST = """
    com cn net org top xyz cc vip me io co info shop club site online ltd link app tv hk tw us uk
    ru la biz icu fun store pro live work tech asia mobi so gg ly gl im ai dev wang ren ink kim pub
    red run beer fit art love cool plus group life world today news space website cloud host email
"""
TLDS = frozenset(_TLD_LIST.split())
_TOKEN = re.compile(r"(?:https?://)?[a-z0-9][a-z0-9.\-]*(?:[:/?#][a-z0-9\-._~:/?#@!$&*+;=%]*)?")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# Labels too common to identify a brand (the domain of `shop.example.com` has no brand).
_GENERIC_LABELS = frozenset(
    {"www", "m", "wap", "mobile", "shop", "mall", "store", "app", "api", "static", "cdn"}
    | {"example"}
)
_SKELETON = (("vv", "w"), ("rn", "m"), ("cl", "d"), ("0", "o"), ("1", "l"), ("-", ""), ("_", ""))


class LinkKind(StrEnum):
    WHITELISTED = "whitelisted"
    SHORT = "short"
    LOOKALIKE = "lookalike"
    EXTERNAL = "external"


@dataclass(frozen=True, slots=True)
class FoundLink:
    """A link in the normalised text: its host and the span of the whole link."""

    host: str
    start: int
    end: int


def is_host_name(host: str) -> bool:
    """Two or more dot-separated DNS labels (any top-level domain)."""
    labels = host.split(".")
    return len(labels) >= 2 and all(_LABEL.fullmatch(label) for label in labels)


def _is_link_host(host: str) -> bool:
    return host.rsplit(".", 1)[-1] in TLDS and is_host_name(host)


def find_links(text: str) -> list[FoundLink]:
    """Links in normalised text: ``https://a.cn/x``, ``www.a.com``, bare ``a.cn/x``."""
    if "." not in text:
        return []
    links: list[FoundLink] = []
    for match in _TOKEN.finditer(text):
        token = match.group()
        if match.start() > 0 and text[match.start() - 1] == "@":
            continue  # an e-mail address, not a link
        bare = token.split("://", 1)[-1]
        host = re.split(r"[:/?#]", bare, maxsplit=1)[0].strip(".-")
        if _is_link_host(host):
            links.append(FoundLink(host=host, start=match.start(), end=match.end()))
    return links


def host_of_url(url: str) -> str | None:
    """The lower-case host of a URL (scheme optional), or None when there is none."""
    candidate = url.strip()
    if "://" not in candidate:
        candidate = "http://" + candidate
    try:
        host = urlsplit(candidate).hostname
    except ValueError:
        return None
    return host.rstrip(".") if host else None


def skeleton(name: str) -> str:
    """A look-alike key: ``huayu-flovver`` and ``huayu-flower`` share ``huayuflower``."""
    out = name.lower()
    for old, new in _SKELETON:
        out = out.replace(old, new)
    return out


def brand_of(host: str) -> str | None:
    """The distinctive label of a whitelisted host: the longest non-generic, non-TLD label."""
    labels = [label for label in host.removeprefix("*.").split(".")[:-1]]
    candidates = [label for label in labels if label not in _GENERIC_LABELS and len(label) >= 4]
    return max(candidates, key=len) if candidates else None


class DomainPolicy:
    """Classifies hosts for one group: whitelist, short-link services and brand look-alikes."""

    def __init__(
        self,
        whitelist: Iterable[str],
        *,
        short_hosts: Iterable[str] = (),
        brands: Iterable[str] = (),
        max_distance: int = 1,
    ) -> None:
        entries = [host.lower() for host in whitelist]
        self._exact = frozenset(h for h in entries if not h.startswith("*."))
        self._suffixes = tuple(h[1:] for h in entries if h.startswith("*."))
        self._short = frozenset(h.lower() for h in short_hosts)
        found = {brand_of(h) for h in entries} | {b.lower() for b in brands}
        self._brands = tuple(skeleton(b) for b in sorted(b for b in found if b))
        self._max_distance = max_distance

    def is_whitelisted(self, host: str) -> bool:
        return host in self._exact or any(
            host.endswith(suffix) or host == suffix[1:] for suffix in self._suffixes
        )

    def classify(self, host: str) -> tuple[LinkKind, str]:
        """The kind of link and a one-line reason for the reviewer."""
        if self.is_whitelisted(host):
            return LinkKind.WHITELISTED, f"whitelisted host {host}"
        if host in self._short or any(host.endswith("." + s) for s in self._short):
            return LinkKind.SHORT, f"short link via {host}"
        if (brand := self._imitated_brand(host)) is not None:
            return LinkKind.LOOKALIKE, f"{host} imitates {brand}"
        return LinkKind.EXTERNAL, f"link to {host}"

    def _imitated_brand(self, host: str) -> str | None:
        if any(host.endswith("." + exact) for exact in self._exact):
            return None  # a subdomain of a whitelisted host is ours, just not whitelisted
        labels = [skeleton(label) for label in host.split(".")[:-1]]
        joined = "".join(labels)
        for brand in self._brands:
            if brand in joined:
                return brand
            if len(brand) >= 6 and any(
                Levenshtein.distance(label, brand) <= self._max_distance for label in labels
            ):
                return brand
        return None
