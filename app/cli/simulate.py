"""`qunyun simulate`: chat with the running bot as a member, over signed bridge messages.

Sends each line you type to POST /callbacks/bridge and prints the bot's replies, which it
reads back from the admin API's outbox view. Changes nothing itself beyond what the bot does.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Annotated, Any

import httpx
import typer

from app.cli.common import fail, load_settings
from app.faq.config import load_faq_config
from app.senders.bridge import sign_bridge

REPLY_WAIT_SECONDS = 3.0


def simulate(
    url: Annotated[
        str, typer.Option(help="Where `qunyun serve` listens.")
    ] = "http://127.0.0.1:8000",
    chat: Annotated[str, typer.Option(help="Group id to talk in.")] = "g-001",
    chat_name: Annotated[str, typer.Option(help="Group name.")] = "花屿会员1群",
    user: Annotated[str, typer.Option(help="Your member id.")] = "u-001",
    name: Annotated[str, typer.Option(help="Your display name.")] = "小满",
    message: Annotated[
        list[str] | None, typer.Option("--message", "-m", help="Send these and exit.")
    ] = None,
) -> None:
    """Type messages as a member; the bot's replies are printed below them."""
    settings = load_settings()
    if settings.bridge_secret is None or settings.admin_token is None:
        fail("BRIDGE_SECRET and ADMIN_TOKEN are needed (dev mode creates them on `qunyun serve`)")
    secret = settings.bridge_secret.get_secret_value().encode()
    auth = {"Authorization": f"Bearer {settings.admin_token.get_secret_value()}"}
    with httpx.Client(base_url=url, timeout=10.0) as client:
        last_id = _latest_outbox_id(client, auth, chat)
        lines: Iterable[str] = message if message else _typed_lines(name)
        for text in lines:
            _send(client, secret, chat, chat_name, user, name, text)
            last_id = _print_replies(client, auth, chat, last_id)


def _typed_lines(name: str) -> Iterator[str]:  # pragma: no cover - interactive
    print("输入消息后回车发送（Ctrl-D 退出）。试试：帮助")
    while True:
        try:
            text = input(f"{name}> ").strip()
        except EOFError:
            print()
            return
        if text:
            yield text


def mentions_bot(text: str) -> bool:
    """Whether a typed line starts with @ and one of the bot's names (config/faq.toml), as a
    gateway would flag a real @-mention."""
    names = load_faq_config().text.bot_names
    return any(text.lstrip().startswith(f"@{name}") for name in names)


def _send(
    client: httpx.Client,
    secret: bytes,
    chat: str,
    chat_name: str,
    user: str,
    name: str,
    text: str,
) -> None:
    now = int(time.time())
    body = json.dumps(
        {
            "id": f"sim-{uuid.uuid4().hex}",
            "type": "text",
            "chat": {"id": chat, "name": chat_name},
            "sender": {"id": user, "name": name, "role": "member"},
            "text": text,
            "mentions": [],
            "mentioned_bot": mentions_bot(text),
            "sent_at": now,
        },
        ensure_ascii=False,
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Qunyun-Timestamp": str(now),
        "X-Qunyun-Signature": sign_bridge(secret, now, body),
    }
    try:
        response = client.post("/callbacks/bridge", content=body, headers=headers)
    except httpx.HTTPError as error:
        fail(f"the bot is not reachable at {client.base_url}: {error}")
    if response.status_code != 200:
        fail(f"the bot refused the message: {response.status_code} {response.text}")


def _latest_outbox_id(client: httpx.Client, auth: dict[str, str], chat: str) -> int:
    items = _outbox(client, auth, chat, 0)
    return max((item["id"] for item in items), default=0)


def _outbox(
    client: httpx.Client, auth: dict[str, str], chat: str, after: int
) -> list[dict[str, Any]]:
    try:
        response = client.get(
            "/api/v1/outbox",
            params={"chat_id": chat, "after_id": after, "limit": 500},
            headers=auth,
        )
    except httpx.HTTPError as error:
        fail(f"the bot is not reachable at {client.base_url}: {error}")
    if response.status_code != 200:
        fail(f"cannot read replies: {response.status_code} {response.text}")
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _print_replies(client: httpx.Client, auth: dict[str, str], chat: str, after: int) -> int:
    deadline = time.monotonic() + REPLY_WAIT_SECONDS
    while time.monotonic() < deadline:
        items = _outbox(client, auth, chat, after)
        if items:
            for item in items:
                mentions = "".join(f"@{m} " for m in item.get("mentions") or [])
                print(f"群助手: {mentions}{item['text']}")
                after = max(after, item["id"])
            return after
        time.sleep(0.2)
    return after
