"""Run an inbox worker that dies (os._exit) in the middle of processing a message.

Used by tests/test_dispatcher.py as a subprocess:
`python -m tests.crash_worker DATABASE_URL [TEXT]` — dies on the first message, or (with TEXT)
answers every message and dies on the one whose text is TEXT, in the middle of its batch.
"""

from __future__ import annotations

import os
import sys

from pydantic import SecretStr

from app.pipeline import Context, Flow, Pipeline, Route
from app.runtime import build_runtime
from app.settings import Settings


def die_mid_transaction(ctx: Context) -> Flow:
    die_on = sys.argv[2] if len(sys.argv) > 2 else None
    if die_on is not None and ctx.text != die_on:
        ctx.reply(f"回复:{ctx.text}")
        return Flow.CONTINUE
    ctx.reply("这条回复不应该发出")
    ctx.services.session.flush()  # the reply's state is written but not committed
    os._exit(9)


def main() -> None:
    settings = Settings(
        _env_file=None,
        environment="test",
        database_url=sys.argv[1],
        admin_token=SecretStr("x" * 20),
        bridge_secret=SecretStr("y" * 20),
    )
    runtime = build_runtime(settings)
    runtime.worker._pipeline = Pipeline(Route("crash", die_mid_transaction))
    runtime.worker.drain()


if __name__ == "__main__":
    main()
