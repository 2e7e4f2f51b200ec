"""Flash-sale benchmark: claims/s at the start of a sale, and message-stored → reply-queued p99.

Usage: python bench/flash_sale.py [--units 100 1000 10000] [--members 1000] [--rate 2200]
       (BENCH_DATABASE_URL=postgresql://… an admin URL, adds PostgreSQL runs)

For every database and stock size, a fresh database with 1,000 members in one group and one
item of `units` units (per-member limit ceil(units / members), so the sale can sell out; every
member taps one more time than their limit, so attempts exceed units: a double-click storm):
1. service — threads released by a barrier call `FlashSaleService.claim`, one transaction per
   claim (the raw claim path: lookups, checks, the take under row locks);
2. pipeline burst — all claim messages are stored as inbox rows at once, then inbox workers
   (PostgreSQL: one process per CPU; SQLite: one worker thread, its one-writer setup)
   process them in batches (`inbox.batch_size`): presence, pipeline, claim, reply into the
   outbox, one commit per batch;
3. pipeline paced — messages are stored at `--rate` per second (open loop, 5 ms batches, like
   the webhook's group commit) while the workers run; latency = reply committed − row stored.
   At 10 % above the goal rate for the smallest and the largest stock (a run's rate counts
   until its last reply, so a run offered exactly the goal rate measures a little under it
   even when it keeps up), and at half the measured burst capacity for the smallest. On
   SQLite the storing thread shares the process's one connection with the workers (as
   `qunyun serve` does), so it is slowed to what the workers leave; the line shows the rate
   actually stored.
After each run the invariants are checked: exactly min(units, members × limit) claims, nobody
over the limit, stock never below zero and stock + claimed == units; pipeline: one reply per
message. Goal on PostgreSQL: ≥ 2,000 claims/s with p99 ≤ 200 ms.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import queue
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from bench.dbs import postgres_database, sqlite_database  # noqa: E402

GOAL_CLAIMS_PER_S, GOAL_P99_MS = 2000.0, 200.0
CHAT = "g-bench"


@dataclass(frozen=True)
class Scenario:
    units: int
    members: int

    @property
    def limit(self) -> int:
        return max(1, math.ceil(self.units / self.members))

    @property
    def taps(self) -> int:
        return self.limit + 1

    @property
    def expected_claims(self) -> int:
        return min(self.units, self.members * self.limit)


@dataclass
class Result:
    db: str
    mode: str
    scenario: Scenario
    attempts: int
    claims: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    stored_per_s: float = 0.0  # how fast the inbox rows were actually stored (paced runs)
    offered_per_s: float | None = None  # the paced rate asked for; None for a burst

    def p99(self) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0

    def line(self) -> str:
        rate = self.attempts / self.seconds
        claims = self.claims / self.seconds
        text = (
            f"{self.db:10} {self.mode:15} units={self.scenario.units:>5} "
            f"attempts={self.attempts:>5} claimed={self.claims:>5} "
            f"{rate:8.0f} attempts/s {claims:8.0f} claims/s"
        )
        if self.latencies_ms and self.mode != "pipeline-burst":  # burst latency = queueing
            p50 = statistics.median(self.latencies_ms)
            text += f"  stored {self.stored_per_s:6.0f}/s"
            text += f"  p50 {p50:7.1f} ms  p99 {self.p99():7.1f} ms"
        return text


# -- setup ----------------------------------------------------------------------------------
def _factory(url: str, pool: int) -> tuple[Any, sessionmaker[Session]]:
    from app.db.session import make_engine, make_session_factory

    engine = make_engine(url, pool_size=pool)
    return engine, make_session_factory(engine)


def seed(url: str, scenario: Scenario, starts_at: datetime) -> tuple[int, int, list[int]]:
    """Members in one group and a sale with one item; (sale id, chat pk, member pks)."""
    from app.db.session import transaction
    from app.messages import ChatRef, Platform, Role
    from app.services.flash_sale_admin import FlashSaleAdmin, ItemInput, SaleInput
    from app.services.flash_sale_config import load_flash_sale_config
    from app.services.members import MembersService
    from app.settings import Settings

    engine, factory = _factory(url, 1)
    now = starts_at - timedelta(hours=1)
    tz = Settings(_env_file=None).tz
    with transaction(factory) as session:
        members = MembersService(session)
        chat = members.ensure_chat(ChatRef(Platform.BRIDGE, CHAT, True, "秒杀压测群"), now=now)
        pks = []
        for i in range(scenario.members):
            pk = members.ensure_member(
                "bridge", _user(i), name=f"会员{i}", role=Role.MEMBER, now=now
            )
            members.touch(chat, pk, now=now, counts=False)
            pks.append(pk)
        item = ItemInput(
            1, "压测花束", 2990, stock=scenario.units, per_member_limit=scenario.limit
        )
        data = SaleInput(
            "压测秒杀", (chat,), starts_at, starts_at + timedelta(hours=1), (item,), 15
        )
        config = load_flash_sale_config()
        sale = FlashSaleAdmin(session, config, tz=tz, now=now).create(data)
    if engine.dialect.name == "postgresql":
        # A community's members exist long before its sale, and autovacuum has their
        # statistics. Without them the planner takes the 1,000 members just inserted for a
        # handful and compares each with each of a batch's senders (measured: 15–22 ms per
        # batch instead of 1 ms until autovacuum gets there). Orders still start empty.
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    engine.dispose()
    return sale, chat, pks


def _user(i: int) -> str:
    return f"u-{i:05d}"


def attempts_for(scenario: Scenario) -> list[int]:
    """Member indexes, one per claim message, shuffled (deterministic)."""
    work = [i for i in range(scenario.members) for _ in range(scenario.taps)]
    random.Random(2026).shuffle(work)
    return work


# -- 1. the claim service -------------------------------------------------------------------
def run_service(db: str, url: str, scenario: Scenario, threads: int) -> Result:
    from app.clock import FixedClock
    from app.db.session import transaction
    from app.services.flash_sale_config import load_flash_sale_config
    from app.services.flash_sales import FlashSaleService
    from app.services.points import PointsService
    from app.services.points_config import load_points_config
    from app.settings import Settings

    starts_at = datetime(2030, 1, 1, 2, 0, tzinfo=UTC)
    sale, chat, pks = seed(url, scenario, starts_at)
    clock, tz = FixedClock(starts_at), Settings(_env_file=None).tz
    engine, factory = _factory(url, threads)
    work = attempts_for(scenario)
    barrier = threading.Barrier(threads + 1)

    def one_thread(indexes: list[int]) -> int:
        won = 0
        barrier.wait()
        for n, member in enumerate(indexes):
            with transaction(factory) as session:
                points = PointsService(session, load_points_config(), clock, tz)
                service = FlashSaleService(session, points, load_flash_sale_config(), clock, tz)
                result = service.claim(pks[member], chat, 1, key=f"{member}:{n}:{id(indexes)}")
                won += result.status == "claimed"
        return won

    slices = [work[i::threads] for i in range(threads)]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(one_thread, s) for s in slices]
        barrier.wait()
        started = time.perf_counter()
        claims = sum(f.result() for f in futures)
        seconds = time.perf_counter() - started
    check_invariants(factory, sale, scenario, claims)
    engine.dispose()
    return Result(db, "service", scenario, len(work), claims, seconds)


# -- 2./3. the pipeline: inbox rows → workers → outbox --------------------------------------
def _messages(scenario: Scenario, at: datetime) -> list[Any]:
    from app.inbox import InboxItem
    from app.messages import ChatRef, InboundMessage, Kind, Platform

    chat = ChatRef(Platform.BRIDGE, CHAT, True, "秒杀压测群")
    return [
        InboxItem(
            InboundMessage(
                chat=chat,
                external_id=f"m-{n}",
                sender_id=_user(member),
                kind=Kind.TEXT,
                text="抢1" if n % 3 else "抢 1",
                sent_at=at,
                sender_name=f"会员{member}",
            )
        )
        for n, member in enumerate(attempts_for(scenario))
    ]


def _store(
    factory: sessionmaker[Session], items: list[Any], rate: float | None
) -> dict[str, float]:
    """Store inbox rows (as fast as possible, or `rate` per second in 5 ms batches) in
    group-commit batches like the webhook's; returns when each was stored."""
    from app.clock import SystemClock
    from app.inbox import MAX_BATCH, store_batch

    stored: dict[str, float] = {}
    batch = MAX_BATCH if rate is None else max(1, min(MAX_BATCH, int(rate * 0.005)))
    started = time.time()
    for offset in range(0, len(items), batch):
        if rate is not None:
            due = started + offset / rate
            time.sleep(max(0.0, due - time.time()))
        chunk = items[offset : offset + batch]
        store_batch(factory, chunk, SystemClock(), 0)
        now = time.time()
        for item in chunk:
            stored[item.message.dedupe_key] = now
    return stored


def _worker_process(url: str, done_flag: Any, out: Any, ready: Any) -> None:
    """A PostgreSQL inbox-worker process with its own engine."""
    engine, factory = _factory(url, 2)
    _worker_loop(url, factory, done_flag, out, ready)
    engine.dispose()


def _worker_loop(
    url: str, factory: sessionmaker[Session], done_flag: Any, out: Any, ready: Any
) -> None:
    """One inbox worker: process rows until the producer is done and none is left."""
    from app.clock import SystemClock
    from app.dispatcher import InboxWorker
    from app.handlers import PIPELINE
    from app.runtime import quiet_gc, warm_up
    from app.services import AppDeps
    from app.services.texts import Texts
    from app.settings import CONFIG_DIR, Settings

    settings = Settings(_env_file=None, database_url=url)
    deps = AppDeps(settings, SystemClock(), factory, Texts.load(CONFIG_DIR / "texts.toml"))
    worker = InboxWorker(deps, PIPELINE)
    warm_up(deps)  # as a served process does once it has started
    quiet_gc()
    ready.put(True)
    finished: list[tuple[int, float]] = []
    while True:
        results = worker.process_batch()  # the batch's replies are committed when it returns
        if results:
            at = time.time()
            finished += [(result.inbox_id, at) for result in results]
            continue
        if done_flag.is_set():
            if not worker.process_batch():
                break
            continue
        time.sleep(0.0005)  # nothing pending yet: poll (a benchmark, not the product)
    out.put(finished)


def run_pipeline(
    db: str, url: str, scenario: Scenario, workers: int, rate: float | None = None
) -> Result:
    starts_at = datetime.now(UTC) - timedelta(seconds=1)
    sale, _, _ = seed(url, scenario, starts_at)
    items = _messages(scenario, datetime.now(UTC))
    engine, factory = _factory(url, 2)
    launch = _processes(url, workers) if db == "postgresql" else _threads(url, factory, workers)
    stored, finished, seconds = _drive(launch, factory, items, rate)
    latencies = _latencies(factory, stored, finished)
    claims = _claims(factory, sale)
    check_invariants(factory, sale, scenario, claims, replies=len(items))
    engine.dispose()
    mode = "pipeline-burst" if rate is None else f"pipeline@{rate:.0f}/s"
    spread = max(stored.values()) - min(stored.values())
    stored_rate = len(items) / spread if spread > 0 else float("inf")
    return Result(db, mode, scenario, len(items), claims, seconds, latencies, stored_rate, rate)


Run = tuple[dict[str, float], list[tuple[int, float]], float]


Launch = Callable[[], tuple[Any, Callable[[], list[tuple[int, float]]]]]


def _drive(
    launch: Launch, factory: sessionmaker[Session], items: list[Any], rate: float | None
) -> Run:
    """Burst: store everything, then start the workers. Paced: store while they work."""
    ready = _store(factory, items, None) if rate is None else None
    done, collect = launch()
    started = time.time()
    stored = ready if ready is not None else _store(factory, items, rate)
    done.set()
    finished = collect()
    return stored, finished, max(t for _, t in finished) - started


def _processes(url: str, workers: int) -> Launch:
    """PostgreSQL: worker processes, each with its own engine."""

    def launch() -> tuple[Any, Callable[[], list[tuple[int, float]]]]:
        ctx = mp.get_context("fork")
        done, out, ready = ctx.Event(), ctx.Queue(), ctx.Queue()
        procs = [
            ctx.Process(target=_worker_process, args=(url, done, out, ready))
            for _ in range(workers)
        ]
        for proc in procs:
            proc.start()
        for _ in procs:  # a served process is up long before the sale starts
            ready.get()

        def collect() -> list[tuple[int, float]]:
            finished = [pair for _ in procs for pair in out.get()]
            for proc in procs:
                proc.join()
            return finished

        return done, collect

    return launch


def _threads(url: str, factory: sessionmaker[Session], workers: int) -> Launch:
    """SQLite: worker threads sharing the process's one connection with the writer, as
    `qunyun serve` runs on SQLite."""

    def launch() -> tuple[Any, Callable[[], list[tuple[int, float]]]]:
        done, out = threading.Event(), queue.Queue[list[tuple[int, float]]]()
        ready = queue.Queue[bool]()
        threads = [
            threading.Thread(target=_worker_loop, args=(url, factory, done, out, ready))
            for _ in range(workers)
        ]
        for thread in threads:
            thread.start()
        for _ in threads:
            ready.get()

        def collect() -> list[tuple[int, float]]:
            for thread in threads:
                thread.join()
            return [pair for _ in threads for pair in out.get()]

        return done, collect

    return launch


def _latencies(
    factory: sessionmaker[Session], stored: dict[str, float], finished: list[tuple[int, float]]
) -> list[float]:
    from app.db.models import InboxRow

    with factory() as session:
        rows = session.execute(select(InboxRow.id, InboxRow.dedupe_key)).all()
    keys = {int(inbox_id): str(key) for inbox_id, key in rows}
    return [(at - stored[keys[inbox_id]]) * 1000 for inbox_id, at in finished]


def _claims(factory: sessionmaker[Session], sale: int) -> int:
    from app.db.models import FlashSaleOrder

    with factory() as session:
        stmt = select(func.count()).where(FlashSaleOrder.sale_id == sale)
        return int(session.scalar(stmt) or 0)


# -- invariants -----------------------------------------------------------------------------
def check_invariants(
    factory: sessionmaker[Session],
    sale: int,
    scenario: Scenario,
    claims: int,
    *,
    replies: int | None = None,
) -> None:
    from app.db.models import FlashSaleItem, FlashSaleOrder, InboxRow, OutboxRow

    with factory() as session:
        item = session.scalars(select(FlashSaleItem).where(FlashSaleItem.sale_id == sale)).one()
        per_member = session.execute(
            select(FlashSaleOrder.member_id, func.count())
            .where(FlashSaleOrder.sale_id == sale, FlashSaleOrder.status.in_(("pending", "paid")))
            .group_by(FlashSaleOrder.member_id)
        ).all()
        active = sum(int(n) for _, n in per_member)
        assert claims == scenario.expected_claims, (claims, scenario.expected_claims)
        assert active == claims
        assert item.stock >= 0
        assert item.stock + active == scenario.units
        assert max(int(n) for _, n in per_member) <= scenario.limit
        if replies is not None:
            pending = session.scalar(
                select(func.count()).where(InboxRow.status != "done").select_from(InboxRow)
            )
            outbox = session.scalar(
                select(func.count()).where(OutboxRow.idempotency_key.like("reply:%"))
            )
            assert pending == 0
            assert outbox == replies, (outbox, replies)


# -- main -----------------------------------------------------------------------------------
@contextmanager
def _database(db: str) -> Iterator[str | None]:
    if db == "sqlite":
        with sqlite_database() as url:
            yield url
    else:
        with postgres_database() as url:
            yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=16, help="service-level claim threads")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="PostgreSQL")
    parser.add_argument("--rate", type=float, default=GOAL_CLAIMS_PER_S * 1.1, help="paced msgs/s")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start", flush=True)
    results: list[Result] = []
    for db in ("sqlite", "postgresql"):
        with _database(db) as probe:
            if probe is None:
                print("(PostgreSQL skipped: set BENCH_DATABASE_URL to an admin URL)")
                continue
        results += _runs(db, args)
    _verdict(results)


def _runs(db: str, args: argparse.Namespace) -> list[Result]:
    # SQLite: one worker thread, as `qunyun serve` runs (threads sharing the one connection
    # only take turns, and the pool is not fair: a second one starves).
    workers = args.workers if db == "postgresql" else 1
    results = []
    for units in args.units:
        scenario = Scenario(units, args.members)
        results.append(_once(db, partial(run_service, scenario=scenario, threads=args.threads)))
        results.append(_once(db, partial(run_pipeline, scenario=scenario, workers=workers)))
    # Latency at the start of a sale, paced: above the goal rate for the smallest stock (sold out
    # at once: most claims join the waitlist) and the largest (most claims get a unit), and
    # at half the burst capacity measured above for the smallest (a load this machine carries).
    small = Scenario(min(args.units), args.members)
    capacity = next(r for r in results if r.mode == "pipeline-burst")
    paced_runs = [(small, args.rate), (small, capacity.attempts / capacity.seconds / 2)]
    if max(args.units) != small.units:
        paced_runs.insert(1, (Scenario(max(args.units), args.members), args.rate))
    for scenario, rate in paced_runs:
        paced = partial(run_pipeline, scenario=scenario, workers=workers, rate=rate)
        results.append(_once(db, paced))
    return results


def _once(db: str, run: Callable[[str, str], Result]) -> Result:
    """One run on a fresh database; prints its line."""
    with _database(db) as url:
        assert url is not None
        result = run(db, url)
    print(result.line(), flush=True)
    return result


def _verdict(results: list[Result]) -> None:
    print("invariants held in every run (exact claims, limits, stock >= 0, one reply each)")
    pg = [r for r in results if r.db == "postgresql"]
    burst = [r for r in pg if r.mode == "pipeline-burst"]
    paced = [r for r in pg if r.mode.startswith("pipeline@")]
    if not burst or not paced:
        return
    best = max(r.attempts / r.seconds for r in burst)
    # Met only when every run offered at least the goal rate (each stock size) keeps up with
    # the goal and stays in the p99.
    at_goal = [r for r in paced if (r.offered_per_s or 0) >= GOAL_CLAIMS_PER_S]
    ok = bool(at_goal) and all(
        r.attempts / r.seconds >= GOAL_CLAIMS_PER_S and r.p99() <= GOAL_P99_MS for r in at_goal
    )
    runs = "; ".join(
        f"{r.scenario.units} units {r.attempts / r.seconds:.0f}/s p99 {r.p99():.0f} ms"
        for r in at_goal
    )
    print(
        f"PostgreSQL goal (>= {GOAL_CLAIMS_PER_S:.0f} claims/s, p99 <= {GOAL_P99_MS:.0f} ms): "
        f"best burst {best:.0f} attempts/s; paced at or above the goal: {runs or 'none'}"
        f" -> {'MET' if ok else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
