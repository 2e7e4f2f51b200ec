"""Webhook throughput: a bare FastAPI endpoint vs. the full bridge and WeCom-app paths.

Usage: python bench/webhook.py [--seconds 8] [--connections 50]
       (BENCH_DATABASE_URL=postgresql://… adds a PostgreSQL run)

One uvicorn worker (uvloop + httptools) runs on CPU 0 with the real app, its inbox worker and
outbox dispatcher; a raw-socket asyncio load generator runs on CPU 1 with keep-alive
connections. Every full-path request is unique (own message id, nonce and signature), so each
one is verified, decrypted, stored (group commit), processed by the pipeline and committed.
Prints requests/s, p50 and p99 per endpoint and the full/bare ratio; goal: ≥ 25 % of bare
throughput with p99 ≤ 50 ms at 50 connections.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.dbs import databases  # noqa: E402

BRIDGE_SECRET = "bench-bridge-secret-0123456789"
ADMIN_TOKEN = "bench-admin-token-0123456789"
WECOM_TOKEN = "QDG6eK"
WECOM_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
CORP_ID = "wx5823bf96d3bd56c7"
GOAL_RATIO, GOAL_P99_MS = 0.25, 50.0


# -- server side -------------------------------------------------------------------------------
def serve(db_url: str, port: int) -> None:
    """Run the real app plus a bare endpoint, one worker, pinned to CPU 0."""
    import uvicorn
    from fastapi.responses import PlainTextResponse
    from pydantic import SecretStr

    from app.main import create_app
    from app.settings import Settings

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    settings = Settings(
        _env_file=None,
        environment="test",
        database_url=db_url,
        admin_token=SecretStr(ADMIN_TOKEN),
        bridge_secret=SecretStr(BRIDGE_SECRET),
        wecom_corp_id=CORP_ID,
        wecom_app_token=SecretStr(WECOM_TOKEN),
        wecom_app_encoding_aes_key=SecretStr(WECOM_KEY),
        callback_max_age_seconds=3600,
    )
    app = create_app(settings)

    @app.post("/bare", response_class=PlainTextResponse)
    async def bare() -> str:
        return "success"

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )


# -- request builders ----------------------------------------------------------------------------
def raw_post(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def bare_requests() -> Iterator[bytes]:
    request = raw_post("/bare", b"<xml><Encrypt>x</Encrypt></xml>", {"Content-Type": "text/xml"})
    while True:
        yield request


def bridge_requests(count: int) -> list[bytes]:
    from app.senders.bridge import sign_bridge

    now = int(time.time())
    requests = []
    for i in range(count):
        event = {
            "id": f"bench-{i}",
            "type": "text",
            "chat": {"id": f"g-{i % 20}", "name": "压测群"},
            "sender": {"id": f"u-{i % 500}", "name": "压测", "role": "member"},
            "text": "请问今天几点前下单可以当天送到？",
            "sent_at": now,
        }
        body = json.dumps(event, ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Qunyun-Timestamp": str(now),
            "X-Qunyun-Signature": sign_bridge(BRIDGE_SECRET.encode(), now, body),
        }
        requests.append(raw_post("/callbacks/bridge", body, headers))
    return requests


def wecom_requests(count: int) -> list[bytes]:
    from app.adapters.wecom_crypto import WeComCrypto
    from app.clock import SystemClock

    crypto = WeComCrypto(WECOM_TOKEN, WECOM_KEY, CORP_ID, clock=SystemClock())
    now = str(int(time.time()))
    requests = []
    for i in range(count):
        inner = (
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
            f"<FromUserName><![CDATA[user{i % 500}]]></FromUserName>"
            f"<CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[请问运费多少]]></Content><MsgId>{10_000_000 + i}</MsgId>"
            "<AgentID>1</AgentID></xml>"
        ).encode()
        nonce = f"n{i}"
        encrypt, signature = crypto.seal(inner, nonce=nonce, timestamp=now)
        body = (
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]>"
            "</Encrypt><AgentID><![CDATA[1]]></AgentID></xml>"
        ).encode()
        path = f"/callbacks/wecom/app?msg_signature={signature}&timestamp={now}&nonce={nonce}"
        requests.append(raw_post(path, body, {"Content-Type": "text/xml"}))
    return requests


# -- load generator ---------------------------------------------------------------------------
async def _connection(
    port: int, source: Iterator[bytes], until: float, latencies: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for request in source:
            if time.perf_counter() >= until:
                return
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 200"):
                errors.append(int(head[9:12]))
    finally:
        writer.close()


def run_load(
    port: int, source: Iterator[bytes], seconds: float, connections: int
) -> tuple[float, float, float, int, int]:
    """Returns (requests/s, p50 ms, p99 ms, completed, non-200)."""
    import uvloop

    latencies: list[float] = []
    errors: list[int] = []

    async def main() -> float:
        start = time.perf_counter()
        until = start + seconds
        await asyncio.gather(
            *(_connection(port, source, until, latencies, errors) for _ in range(connections))
        )
        return time.perf_counter() - start

    elapsed = uvloop.run(main())
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1] if latencies else float("nan")
    return (
        len(latencies) / elapsed,
        median(latencies) * 1000,
        p99 * 1000,
        len(latencies),
        len(errors),
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_ready(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


def bench_database(name: str, url: str, seconds: float, connections: int) -> bool:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", url, "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    try:
        _wait_ready(port)
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {1})
        capacity = int(seconds * 8000) + 5000
        cases: list[tuple[str, Callable[[], Iterator[bytes]]]] = [
            ("bare", bare_requests),
            ("bridge", lambda: iter(bridge_requests(capacity))),
            ("wecom_app", lambda: iter(wecom_requests(capacity))),
        ]
        results = {}
        for label, make in cases:
            source = make()
            run_load(port, source, 1.0, connections)  # warm-up
            results[label] = run_load(port, source, seconds, connections)
    finally:
        server.terminate()
        server.wait(timeout=30)
    bare_rps = results["bare"][0]
    ok = True
    print(f"\n[{name}] 1 worker, {connections} connections, {seconds:.0f} s per endpoint")
    print(
        f"{'endpoint':<10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-200':>8} {'vs bare':>8}"
    )
    for label, (rps, p50, p99, _done, errors) in results.items():
        ratio = rps / bare_rps
        print(f"{label:<10} {rps:>9.0f} {p50:>8.2f} {p99:>8.2f} {errors:>8d} {ratio:>7.0%}")
        if label != "bare":
            ok &= ratio >= GOAL_RATIO and p99 <= GOAL_P99_MS and errors == 0
    print(
        f"goal: full path ≥ {GOAL_RATIO:.0%} of bare, p99 ≤ {GOAL_P99_MS:.0f} ms: "
        + ("met" if ok else "NOT met")
    )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    all_ok = True
    for name, url in databases():
        all_ok &= bench_database(name, url, args.seconds, args.connections)
    raise SystemExit(0 if all_ok else 1)


if __name__ == "__main__":
    main()
