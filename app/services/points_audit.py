"""Ledger audit (`qunyun points verify`): prove balances agree with the entries.

Read-only. Checks, per member: cached balance == SUM(delta); cached earned == SUM(earning
deltas); balance >= 0; every entry's `balance_after` equals the running total of the entries
before it (so an edited entry shows up even when the balance was "fixed" to match); an account
for every member with entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.db.models import Member, PointsAccount, PointsEntry
from app.services.points import NON_EARNING_REASONS


@dataclass
class AuditReport:
    accounts: int = 0
    entries: int = 0
    total_balance: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _sums(session: Session) -> dict[int, tuple[int, int, int]]:
    earning = case(
        (
            (PointsEntry.delta > 0) & PointsEntry.reason.not_in(NON_EARNING_REASONS),
            PointsEntry.delta,
        ),
        else_=0,
    )
    rows = session.execute(
        select(
            PointsEntry.member_id,
            func.sum(PointsEntry.delta),
            func.sum(earning),
            func.count(),
        ).group_by(PointsEntry.member_id)
    ).all()
    return {int(m): (int(total), int(earned), int(n)) for m, total, earned, n in rows}


def _broken_chains(session: Session) -> list[tuple[int, int, int, int]]:
    """(member, entry id, recorded balance_after, running total) where they differ."""
    running = func.sum(PointsEntry.delta).over(
        partition_by=PointsEntry.member_id, order_by=PointsEntry.id
    )
    chain = select(
        PointsEntry.member_id, PointsEntry.id, PointsEntry.balance_after, running.label("total")
    ).subquery()
    rows = session.execute(
        select(chain.c.member_id, func.min(chain.c.id))
        .where(chain.c.balance_after != chain.c.total)
        .group_by(chain.c.member_id)
    ).all()
    broken: list[tuple[int, int, int, int]] = []
    for member_id, entry_id in rows:
        found = session.execute(
            select(chain.c.balance_after, chain.c.total).where(chain.c.id == entry_id)
        ).one()
        broken.append((int(member_id), int(entry_id), int(found[0]), int(found[1])))
    return broken


def verify_ledger(session: Session) -> AuditReport:
    names = {
        int(pk): f"{platform}:{external_id}"
        for pk, platform, external_id in session.execute(
            select(Member.id, Member.platform, Member.external_id)
        )
    }
    sums = _sums(session)
    report = AuditReport(entries=sum(n for _, _, n in sums.values()))
    accounts = session.execute(
        select(PointsAccount.member_id, PointsAccount.balance, PointsAccount.earned)
    ).all()
    seen: set[int] = set()
    for member_id, balance, earned in accounts:
        seen.add(member_id)
        report.accounts += 1
        report.total_balance += balance
        who = f"member {member_id} ({names.get(member_id, '?')})"
        total, total_earned, _ = sums.get(member_id, (0, 0, 0))
        if balance != total:
            report.problems.append(f"{who}: balance {balance} != ledger sum {total}")
        if earned != total_earned:
            report.problems.append(f"{who}: earned {earned} != ledger earned {total_earned}")
        if balance < 0:
            report.problems.append(f"{who}: negative balance {balance}")
    for member_id in sorted(set(sums) - seen):
        report.problems.append(f"member {member_id}: ledger entries but no account")
    for member_id, entry_id, recorded, running in _broken_chains(session):
        report.problems.append(
            f"member {member_id}: entry {entry_id} balance_after {recorded} "
            f"!= running total {running}"
        )
    return report
