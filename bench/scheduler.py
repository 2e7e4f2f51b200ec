"""Benchmark: 10,000 occurrences due in the same minute across 500 groups.

Run: `python -m bench.scheduler` (SQLite in a temporary file; PostgreSQL too when
BENCH_DATABASE_URL=postgresql://user@host:port/db is set — a throwaway database is created on
that server and dropped afterwards). Two shapes of the same 10,000 occurrence×group rows:

- "posts":  10,000 one-off posts, each to one group (20 per group over 500 groups);
- "blasts": 20 posts, each to all 500 groups (by tag).

Every post is due at the same instant T0; two scheduler runners (threads, each with its own
engine — the split-brain case the unique keys must survive) call the real enqueue job. Reported:
time to enqueue everything, lateness p50/p99 from T0 to the commit that made each outbox row
visible, and duplicates (occurrence×group pairs with more than one row; must be 0). The live
scheduler adds at most `tick_seconds` to the lateness (it looks for due posts that often).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import create_engine, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from app.clock import SystemClock
from app.db.migrate import upgrade
from app.db.models import Chat, OutboxRow, Post
from app.db.session import make_engine, make_session_factory
from app.jobs.posts import EnqueueReport, enqueue_batch
from app.jobs.registry import JobContext, load_scheduler_config
from app.services import AppDeps
from app.services.posts import Targets
from app.services.texts import Texts
from app.settings import CONFIG_DIR, Settings, normalize_database_url

GROUPS = 500
OCCURRENCES = 10_000
RUNNERS = 2


@dataclass
class Result:
    database: str
    shape: str
    rows: int
    seconds: float
    p50: float
    p99: float
    duplicates: int
    second_pass_rows: int


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{Path(directory) / 'bench.db'}"
        upgrade(url)
        yield url


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    admin = create_engine(normalize_database_url(server_url), isolation_level="AUTOCOMMIT")
    name = f"qunyun_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalize_database_url(server_url)).set(database=name)
    rendered = url.render_as_string(hide_password=False)
    try:
        upgrade(rendered)
        yield rendered
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def seed(factory: sessionmaker[Session], shape: str) -> None:
    """500 groups tagged 会员 and the posts, not yet due."""
    now = datetime.now(UTC)
    far = now + timedelta(days=365)
    with factory.begin() as session:
        session.execute(
            insert(Chat),
            [
                {
                    "platform": "bridge",
                    "external_id": f"g-{i:03d}",
                    "name": f"会员{i}群",
                    "is_group": True,
                    "tags": ["会员"],
                    "created_at": now,
                }
                for i in range(GROUPS)
            ],
        )
        pks = list(session.scalars(select(Chat.id).order_by(Chat.id)))
        if shape == "posts":
            targets = [Targets((pks[i % GROUPS],)).to_dict() for i in range(OCCURRENCES)]
        else:
            targets = [Targets(tags=("会员",)).to_dict()] * (OCCURRENCES // GROUPS)
        session.execute(
            insert(Post),
            [
                {
                    "title": f"bench {i}",
                    "content_type": "text",
                    "content": {"type": "text", "text": f"今日推荐 {i}"},
                    "targets": target,
                    "schedule": {"kind": "once", "at": far.isoformat(), "days": "all"},
                    "status": "scheduled",
                    "source": "admin",
                    "version": 1,
                    "next_due_at": far,
                    "created_at": now,
                    "updated_at": now,
                }
                for i, target in enumerate(targets)
            ],
        )


def run_shape(url: str, database: str, shape: str, batch_size: int) -> Result:
    settings = Settings(
        _env_file=None,
        environment="test",
        database_url=url,
        admin_token=SecretStr("b" * 20),
        bridge_secret=SecretStr("b" * 20),
    )
    config = load_scheduler_config().model_copy(update={"batch_size": batch_size})
    engines = [make_engine(url) for _ in range(RUNNERS)]
    factories = [make_session_factory(e) for e in engines]
    texts = Texts.load(CONFIG_DIR / "texts.toml")
    contexts = [JobContext(AppDeps(settings, SystemClock(), f, texts), config) for f in factories]
    seed(factories[0], shape)
    due = datetime.now(UTC)
    with factories[0].begin() as session:
        session.execute(update(Post).values(next_due_at=due))
    commits: list[tuple[float, int]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(RUNNERS)

    def runner(ctx: JobContext) -> None:
        barrier.wait()
        while True:
            with ctx.factory() as session, session.begin():
                batch = enqueue_batch(session, ctx, now=ctx.now())
            with lock:
                commits.append((time.time(), batch.outbox_rows))
            if batch.posts < config.batch_size:
                return

    started = time.perf_counter()
    threads = [threading.Thread(target=runner, args=(c,)) for c in contexts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    lateness = sorted(at - due.timestamp() for at, rows in commits for _ in range(rows))
    second = rerun_everything(factories[0], contexts[0], due)
    rows, duplicates = count_rows(factories[0])
    for engine in engines:
        engine.dispose()
    return Result(
        database,
        shape,
        rows,
        seconds,
        percentile(lateness, 50),
        percentile(lateness, 99),
        duplicates,
        second.outbox_rows,
    )


def rerun_everything(
    factory: sessionmaker[Session], ctx: JobContext, due: datetime
) -> EnqueueReport:
    """Rewind every post's cursor (a restart that lost its progress) and enqueue again."""
    with factory.begin() as session:
        session.execute(update(Post).values(status="scheduled", next_due_at=due))
    total = EnqueueReport()
    while True:
        with factory.begin() as session:
            batch = enqueue_batch(session, ctx, now=datetime.now(UTC))
        total.add(batch)
        if batch.posts < ctx.config.batch_size:
            return total


def count_rows(factory: sessionmaker[Session]) -> tuple[int, int]:
    """All outbox rows, and extra rows for one (post, chat): each post here fires once, so a
    second row for the same post and group would be a duplicate delivery."""
    with factory() as session:
        keys = list(session.scalars(select(OutboxRow.idempotency_key)))
    per_pair = Counter(tuple(key.split(":")[1:4:2]) for key in keys)
    return len(keys), sum(n - 1 for n in per_pair.values())


def percentile(values: list[float], pct: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=("posts", "blasts", "both"), default="both")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=load_scheduler_config().batch_size,
        help="posts per enqueue transaction (config/scheduler.toml batch_size)",
    )
    args = parser.parse_args()
    shapes = ("posts", "blasts") if args.shape == "both" else (args.shape,)
    results: list[Result] = []
    for shape in shapes:
        with sqlite_database() as url:
            results.append(run_shape(url, "sqlite", shape, args.batch_size))
    server = os.environ.get("BENCH_DATABASE_URL", "")
    if server.startswith("postgres"):
        for shape in shapes:
            with postgres_database(server) as url:
                results.append(run_shape(url, "postgresql", shape, args.batch_size))
    else:
        print("PostgreSQL skipped: set BENCH_DATABASE_URL=postgresql://user@host:port/db")
    print(
        f"{OCCURRENCES} occurrence×group rows due at one instant, {GROUPS} groups, "
        f"{RUNNERS} concurrent scheduler runners, batch size {args.batch_size}"
    )
    print(
        f"{'database':<11}{'shape':<8}{'rows':>7}{'enqueue s':>11}{'p50 s':>8}{'p99 s':>8}"
        f"{'dupes':>7}{'rerun rows':>12}"
    )
    for r in results:
        print(
            f"{r.database:<11}{r.shape:<8}{r.rows:>7}{r.seconds:>11.2f}{r.p50:>8.2f}"
            f"{r.p99:>8.2f}{r.duplicates:>7}{r.second_pass_rows:>12}"
        )


if __name__ == "__main__":
    main()
