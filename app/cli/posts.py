"""`qunyun posts …` (add, list, approve, submit, pause, resume, cancel, calendar) and
`qunyun scheduler`, the single scheduler process.

Each `posts` command is one transaction against DATABASE_URL; bad input is a one-line error
with exit code 2 and writes nothing. `scheduler` runs until SIGTERM/SIGINT.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

import typer
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.cli.common import fail, load_settings, open_database, unreachable
from app.clock import SystemClock
from app.db.migrate import upgrade
from app.db.session import transaction
from app.jobs.registry import SchedulerConfig, load_scheduler_config
from app.logs import setup_logging
from app.messages import ChatRef, Platform
from app.scheduler import run_scheduler
from app.services.calendar import CalendarService
from app.services.members import MembersService
from app.services.posts import (
    PostDraft,
    PostNotFound,
    PostsService,
    PostStateError,
    Targets,
    parse_content,
)
from app.services.recurrence import make_schedule
from app.settings import Settings

app = typer.Typer(
    help="Scheduled posts and the content calendar (内容规划).", no_args_is_help=True
)


def _config() -> SchedulerConfig:
    try:
        return load_scheduler_config()
    except ValueError as error:
        fail(f"config/scheduler.toml: {str(error).splitlines()[0]}")


def _service(session: Session, settings: Settings, config: SchedulerConfig) -> PostsService:
    return PostsService(session, tz=settings.tz, now=SystemClock().now(), grace=config.grace)


def _when(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option} must be a date-time such as 2026-12-01T09:00 (local time)")


@app.command("add")
def add(
    text: Annotated[str, typer.Option(help="What to post.")],
    chat: Annotated[list[str] | None, typer.Option(help="Target group id (repeatable).")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Every group with this tag.")] = None,
    platform: Annotated[str, typer.Option(help="Channel of the --chat ids.")] = "bridge",
    at: Annotated[str | None, typer.Option(help="One-off time, e.g. 2026-12-01T09:00.")] = None,
    cron: Annotated[str | None, typer.Option(help='Recurring, e.g. "0 9 * * 1".')] = None,
    rrule: Annotated[
        str | None, typer.Option(help="Recurring RRULE, e.g. FREQ=WEEKLY;BYDAY=MO.")
    ] = None,
    days: Annotated[str, typer.Option(help="all | skip_holidays | workdays")] = "all",
    markdown: Annotated[bool, typer.Option(help="The text is markdown.")] = False,
    title: Annotated[str | None, typer.Option(help="Title on the calendar.")] = None,
    submit: Annotated[bool, typer.Option(help="Submit for review at once.")] = False,
) -> None:
    """Create a post (draft); `qunyun posts approve ID` schedules it."""
    settings, config = load_settings(), _config()
    chat, tag = chat or [], tag or []
    if not chat and not tag:
        fail("give at least one --chat or --tag")
    if platform not in {p.value for p in Platform}:
        fail(f"--platform must be one of {', '.join(p.value for p in Platform)}")
    now = SystemClock().now()
    try:
        schedule = make_schedule(
            tz=settings.tz, now=now, at=_when(at, "--at"), cron=cron, rule=rrule, days=days
        )
        content = parse_content({"type": "markdown" if markdown else "text", "text": text})
    except ValueError as error:
        fail(str(error))
    with open_database(settings) as factory, transaction(factory) as session:
        members = MembersService(session)
        pks = [members.ensure_chat(ChatRef(Platform(platform), c, True), now=now) for c in chat]
        draft = PostDraft(content, Targets(tuple(pks), tuple(tag)), schedule, title)
        try:
            post = _service(session, settings, config).create(draft, actor="cli", submit=submit)
        except ValueError as error:
            fail(str(error))
        print(f"post {post.id}: {post.status}")


@app.command("list")
def list_posts(
    status: Annotated[str | None, typer.Option(help="Only posts in this status.")] = None,
) -> None:
    """One line per post: id, status, next fire time, title."""
    settings, config = load_settings(), _config()
    with open_database(settings) as factory, transaction(factory) as session:
        for post in _service(session, settings, config).list_posts(status=status):
            due = post.next_due_at.astimezone(settings.tz).isoformat() if post.next_due_at else "-"
            label = post.title or str(post.content.get("text", post.content_type))[:40]
            print(f"{post.id}\t{post.status}\t{due}\t{label}")


def _act(action: str, post_id: int) -> None:
    settings, config = load_settings(), _config()
    with open_database(settings) as factory, transaction(factory) as session:
        service = _service(session, settings, config)
        try:
            if action == "cancel":
                service.cancel(post_id, actor="cli")
            else:
                getattr(service, action)(post_id, actor="cli")
        except PostNotFound:
            fail(f"no post {post_id}")
        except PostStateError as error:
            fail(str(error))
        post = service.get(post_id)
        due = post.next_due_at.astimezone(settings.tz).isoformat() if post.next_due_at else "-"
        print(f"post {post.id}: {post.status} (next: {due})")


@app.command("approve")
def approve(post_id: Annotated[int, typer.Argument(help="Post id.")]) -> None:
    """Approve a draft or submitted post: it is scheduled."""
    _act("approve", post_id)


@app.command("submit")
def submit(post_id: Annotated[int, typer.Argument(help="Post id.")]) -> None:
    """Submit a draft for review."""
    _act("submit", post_id)


@app.command("pause")
def pause(post_id: Annotated[int, typer.Argument(help="Post id.")]) -> None:
    """Pause a scheduled post."""
    _act("pause", post_id)


@app.command("resume")
def resume(post_id: Annotated[int, typer.Argument(help="Post id.")]) -> None:
    """Resume a paused post (fire times that passed meanwhile are skipped)."""
    _act("resume", post_id)


@app.command("cancel")
def cancel(post_id: Annotated[int, typer.Argument(help="Post id.")]) -> None:
    """Cancel a post and its unsent deliveries."""
    _act("cancel", post_id)


@app.command("calendar")
def calendar(
    start: Annotated[
        str | None, typer.Option(help="First day (YYYY-MM-DD); default today.")
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=92, help="How many days.")] = 7,
) -> None:
    """Occurrences in the coming days, with delivery counts per status."""
    settings, config = load_settings(), _config()
    try:
        first = (
            date.fromisoformat(start)
            if start
            else SystemClock().now().astimezone(settings.tz).date()
        )
    except ValueError:
        fail("--start must be a date such as 2026-12-01")
    begin = datetime.combine(first, time(), settings.tz).astimezone(UTC)
    with open_database(settings) as factory, transaction(factory) as session:
        service = CalendarService(
            session,
            tz=settings.tz,
            now=SystemClock().now(),
            robots=config.robot_keys(),
            notes=config.texts.notes(),
            per_minute=settings.outbox.robot_messages_per_minute,
        )
        for item in service.occurrences(begin, begin + timedelta(days=days)):
            counts: dict[str, int] = {}
            for delivery in item.deliveries:
                counts[delivery.status] = counts.get(delivery.status, 0) + 1
            summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "no groups"
            when = item.due_at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M")
            print(f"{when}\t#{item.post_id} {item.title or ''}\t{item.state}\t{summary}")


def scheduler() -> None:
    """Run the single scheduler process (leader lock, scheduled posts, weekly report)."""
    settings, config = load_settings(), _config()
    setup_logging()
    if not settings.is_production and settings.database_url.startswith("sqlite"):
        upgrade(settings.database_url)
    try:
        run_scheduler(settings, config)
    except OperationalError as error:
        unreachable(error)
