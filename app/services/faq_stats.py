"""FAQ statistics for admins: hits per entry, the unanswered rate, top unanswered questions.

Runs on an admin API request (`GET /api/v1/faq/stats`); reads `faq_hits` and `faq_misses`,
changes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.models import FaqEntry, FaqHit, FaqMiss


@dataclass(frozen=True, slots=True)
class EntryHits:
    """How often one entry answered (and pointed back during its cooldown)."""

    entry_id: str
    question: str
    answers: int
    cooldowns: int


@dataclass(frozen=True, slots=True)
class WeekMisses:
    """The most frequent unanswered questions of one week (Monday, community time)."""

    week_start: date
    questions: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class FaqStats:
    """Hits per entry, the unanswered rate and top unanswered questions per week."""

    since: datetime
    until: datetime
    hits: tuple[EntryHits, ...]
    answered: int
    unanswered: int
    weeks: tuple[WeekMisses, ...]

    @property
    def unanswered_rate(self) -> float:
        """Share of questions the KB did not answer (cooldown pointers count as answered)."""
        total = self.answered + self.unanswered
        return self.unanswered / total if total else 0.0


def faq_stats(
    session: Session, *, since: datetime, until: datetime, tz: tzinfo, top: int = 10
) -> FaqStats:
    """Statistics over `since` ≤ at ≤ `until`."""
    hit_rows = session.execute(
        select(FaqEntry.external_id, FaqEntry.question, FaqHit.kind, func.count())
        .join(FaqEntry, FaqEntry.id == FaqHit.entry_id)
        .where(FaqHit.at >= since, FaqHit.at <= until)
        .group_by(FaqEntry.external_id, FaqEntry.question, FaqHit.kind)
    ).all()
    per_entry: dict[tuple[str, str], Counter[str]] = {}
    for external_id, question, kind, count in hit_rows:
        per_entry.setdefault((external_id, question), Counter())[kind] += int(count)
    hits = sorted(
        (
            EntryHits(eid, question, counts["answer"], counts["cooldown"])
            for (eid, question), counts in per_entry.items()
        ),
        key=lambda h: (-(h.answers + h.cooldowns), h.entry_id),
    )
    misses = session.execute(
        select(FaqMiss.at, FaqMiss.normalized).where(FaqMiss.at >= since, FaqMiss.at <= until)
    ).all()
    return FaqStats(
        since=since,
        until=until,
        hits=tuple(hits),
        answered=sum(h.answers + h.cooldowns for h in hits),
        unanswered=len(misses),
        weeks=_weeks(((at, text) for at, text in misses), tz, top),
    )


def _weeks(misses: Iterable[tuple[datetime, str]], tz: tzinfo, top: int) -> tuple[WeekMisses, ...]:
    by_week: dict[date, Counter[str]] = {}
    for at, text in misses:
        day = at.astimezone(tz).date()
        by_week.setdefault(day - timedelta(days=day.weekday()), Counter())[text] += 1
    return tuple(
        WeekMisses(week, tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]))
        for week, counts in sorted(by_week.items(), reverse=True)
    )
