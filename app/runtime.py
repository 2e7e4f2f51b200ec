"""Composition root: builds everything a process needs from Settings, and starts/stops it.

`qunyun serve` (through app/main.py) and the CLI commands call `build_runtime`; nothing else
constructs engines, senders or background threads.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from sqlalchemy import Engine

from app.adapters.wecom_crypto import WeComCrypto
from app.clock import Clock, SystemClock
from app.db.session import make_engine, make_session_factory
from app.dispatcher import InboxWorker
from app.handlers import PIPELINE
from app.inbox import InboxWriter
from app.outbox import OutboxDispatcher
from app.senders.base import Sender
from app.senders.bridge import BridgeSender
from app.senders.console import ConsoleSender
from app.senders.wecom_api import AccessTokenCache
from app.senders.wecom_app import WeComAppSender
from app.senders.wecom_bot import WeComBotSender
from app.senders.wecom_robot import WeComRobotSender
from app.services import AppDeps
from app.services.faq import snapshot_loader
from app.services.flash_sale_notices import announcement_routing
from app.services.moderation_config import ModerationConfigService
from app.services.texts import Texts
from app.settings import CONFIG_DIR, Settings

log = logging.getLogger(__name__)
HTTP_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# How long the inbox worker lets pending callbacks be stored before its next message.
WRITER_PRIORITY_SECONDS = 0.05
# SQLite: how long the inbox worker steps back between batches so other threads get the
# process's one connection.
CONNECTION_TURN_SECONDS = 0.0005


# Young-generation threshold (CPython's default is 700). Requests allocate few objects that
# outlive them, so a larger one collects rarely and promotes fewer in-flight objects.
GC_YOUNG_THRESHOLD = 10_000


def quiet_gc() -> None:
    """Freeze the objects that live as long as the process (modules, routes, models, the
    runtime) so that full collections no longer walk them, and collect the young generation
    less often.

    Measured on the webhook benchmark: full collections of the ~200,000 startup objects
    paused every thread for 60–120 ms, several times a second under load, which was most of
    the callbacks' p99.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    deps: AppDeps
    writer: InboxWriter
    worker: InboxWorker
    outbox: OutboxDispatcher
    http: httpx.Client
    senders: dict[str, Sender] = field(default_factory=dict)
    wecom_cryptos: dict[str, WeComCrypto] = field(default_factory=dict)
    started: bool = False

    def start(self, *, when_warm: Callable[[], None] | None = None) -> None:
        """Start the background threads (inbox writer, inbox worker, outbox dispatcher), and
        `warm_up` in the background; `when_warm` runs after that, whether it worked or not."""
        self.writer.start()
        self.worker.start()
        self.outbox.start()
        threading.Thread(
            target=self._warm_up, args=(when_warm,), name="warm-up", daemon=True
        ).start()
        self.started = True

    def _warm_up(self, when_warm: Callable[[], None] | None) -> None:
        try:
            warm_up(self.deps)
        except Exception:  # the first message will try again
            log.exception("warm-up failed")
        if when_warm is not None:
            when_warm()

    def stop(self) -> None:
        if self.started:
            self.writer.stop()
            self.worker.stop()
            self.outbox.stop()
            self.started = False
        self.http.close()
        self.engine.dispose()


def warm_up(deps: AppDeps) -> None:
    """Build now what the first messages would otherwise wait for: the FAQ index (seconds for
    a large KB), the moderation rules (about 80 ms) and the sale announcements' routing (the
    scheduler's config; 100 ms to import and read in a process that has not yet)."""
    deps.faq.refresh(snapshot_loader(deps.session_factory))
    with deps.session_factory() as session:
        ModerationConfigService(session, deps.moderation, deps.clock).loaded()
    announcement_routing()


def build_runtime(settings: Settings, *, clock: Clock | None = None) -> Runtime:
    clock = clock or SystemClock()
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    deps = AppDeps(
        settings=settings,
        clock=clock,
        session_factory=factory,
        texts=Texts.load(CONFIG_DIR / "texts.toml"),
    )
    http = httpx.Client(timeout=HTTP_TIMEOUT)
    senders = build_senders(settings, http, clock)
    outbox = OutboxDispatcher(factory, senders, clock, settings.outbox)
    writer = InboxWriter(factory, clock, nonce_ttl=settings.inbox.nonce_ttl_seconds)
    one_connection = engine.dialect.name == "sqlite"

    def between_batches() -> None:
        writer.wait_idle(WRITER_PRIORITY_SECONDS)
        if one_connection:
            # The pool hands its one connection to whoever asks first, and the worker asks
            # again at once: a short pause lets the outbox thread, woken by the release, take
            # its turn (measured: without it, replies waited up to the 30 s pool timeout).
            time.sleep(CONNECTION_TURN_SECONDS)

    worker = InboxWorker(
        deps,
        PIPELINE,
        on_replies=outbox.wake,
        between_messages=between_batches,
        # SQLite has one write lock: a batch holding it delays every callback's answer, so
        # the worker commits what it has as soon as callbacks wait. PostgreSQL's writer has
        # its own connection and row locks; batches run to their size there.
        commit_soon=writer.has_waiting if one_connection else lambda: False,
    )
    writer.on_stored = worker.wake
    return Runtime(
        settings,
        engine,
        deps,
        writer,
        worker,
        outbox,
        http,
        senders,
        build_cryptos(settings, clock),
    )


def build_cryptos(settings: Settings, clock: Clock) -> dict[str, WeComCrypto]:
    """Callback crypto per configured WeCom channel ("app": receiveid = corp id; "bot": "")."""
    cryptos: dict[str, WeComCrypto] = {}
    window = settings.callback_max_age_seconds
    if settings.wecom_app_token and settings.wecom_app_encoding_aes_key and settings.wecom_corp_id:
        cryptos["app"] = WeComCrypto(
            settings.wecom_app_token.get_secret_value(),
            settings.wecom_app_encoding_aes_key.get_secret_value(),
            settings.wecom_corp_id,
            clock=clock,
            max_age_seconds=window,
        )
    if settings.wecom_bot_token and settings.wecom_bot_encoding_aes_key:
        cryptos["bot"] = WeComCrypto(
            settings.wecom_bot_token.get_secret_value(),
            settings.wecom_bot_encoding_aes_key.get_secret_value(),
            "",
            clock=clock,
            max_age_seconds=window,
        )
    return cryptos


def build_senders(settings: Settings, http: httpx.Client, clock: Clock) -> dict[str, Sender]:
    """One sender per channel. In development an unconfigured channel prints to the console;
    in production it has no sender, so its deliveries are dead-lettered with that reason."""
    console = ConsoleSender()
    senders: dict[str, Sender] = {
        "console": console,
        "wecom_bot": WeComBotSender(http),
        "wecom_robot": WeComRobotSender(http, settings.wecom_api_base),
    }
    if settings.bridge_send_url and settings.bridge_secret is not None:
        senders["bridge"] = BridgeSender(
            http,
            settings.bridge_send_url,
            settings.bridge_secret.get_secret_value().encode(),
            clock,
        )
    if settings.wecom_corp_id and settings.wecom_app_secret and settings.wecom_agent_id:
        tokens = AccessTokenCache(
            http,
            settings.wecom_api_base,
            settings.wecom_corp_id,
            settings.wecom_app_secret.get_secret_value(),
            clock,
        )
        senders["wecom_app"] = WeComAppSender(
            http, tokens, settings.wecom_agent_id, settings.wecom_api_base
        )
    if not settings.is_production:
        for channel in ("bridge", "wecom_app"):
            senders.setdefault(channel, console)
    return senders
