"""Build signed WeCom app and AI-bot requests for the route tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from app.adapters.wecom_crypto import WeComCrypto
from app.clock import FixedClock
from app.main import create_app
from app.runtime import Runtime, build_runtime
from app.settings import Settings
from tests.adapters import CORP_ID, ENCODING_AES_KEY, TOKEN


@pytest.fixture
def wecom_runtime(settings: Settings, clock: FixedClock) -> Iterator[Runtime]:
    configured = settings.model_copy(
        update={
            "wecom_corp_id": CORP_ID,
            "wecom_app_token": SecretStr(TOKEN),
            "wecom_app_encoding_aes_key": SecretStr(ENCODING_AES_KEY),
            "wecom_bot_token": SecretStr(TOKEN),
            "wecom_bot_encoding_aes_key": SecretStr(ENCODING_AES_KEY),
            "wecom_bot_reply_budget_seconds": 0.0,
        }
    )
    runtime = build_runtime(configured, clock=clock)
    yield runtime
    runtime.stop()


@pytest.fixture
def wecom_client(wecom_runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=wecom_runtime, start_workers=False)) as client:
        yield client


def app_crypto(clock: FixedClock) -> WeComCrypto:
    return WeComCrypto(TOKEN, ENCODING_AES_KEY, CORP_ID, clock=clock)


def bot_crypto(clock: FixedClock) -> WeComCrypto:
    return WeComCrypto(TOKEN, ENCODING_AES_KEY, "", clock=clock)


def app_request(
    clock: FixedClock, inner_xml: str, *, nonce: str = "n-1", offset: int = 0
) -> tuple[dict[str, str], bytes]:
    ts = str(int(clock.now().timestamp()) + offset)
    encrypt, signature = app_crypto(clock).seal(inner_xml.encode(), nonce=nonce, timestamp=ts)
    params = {"msg_signature": signature, "timestamp": ts, "nonce": nonce}
    body = (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypt}]]></Encrypt><AgentID>1</AgentID></xml>"
    )
    return params, body.encode()


def bot_request(
    clock: FixedClock, payload: dict[str, Any], *, nonce: str = "n-1"
) -> tuple[dict[str, str], bytes]:
    ts = str(int(clock.now().timestamp()))
    plaintext = json.dumps(payload, ensure_ascii=False).encode()
    encrypt, signature = bot_crypto(clock).seal(plaintext, nonce=nonce, timestamp=ts)
    params = {"msg_signature": signature, "timestamp": ts, "nonce": nonce}
    return params, json.dumps({"encrypt": encrypt}).encode()


def text_xml(
    clock: FixedClock, content: str, msg_id: str = "10001", user: str = "zhangsan"
) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
        f"<FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>{int(clock.now().timestamp())}</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>"
        f"<MsgId>{msg_id}</MsgId><AgentID>1</AgentID></xml>"
    )
