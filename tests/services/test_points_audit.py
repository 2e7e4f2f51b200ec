"""`points verify`: a clean ledger passes; tampered balances, earnings and entries are found."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.db.session import transaction
from app.services.points_audit import verify_ledger
from tests.points_helpers import apply, in_tx, seed_member

Factory = sessionmaker[Session]


def _seed(factory: Factory, clock: FixedClock) -> int:
    member, _ = seed_member(factory, clock.now())
    apply(factory, clock, member, 50, "k1")
    apply(factory, clock, member, -20, "k2", reason="redeem")
    return member


def test_a_clean_ledger_passes(session_factory: Factory, clock: FixedClock) -> None:
    _seed(session_factory, clock)

    report = in_tx(session_factory, verify_ledger)

    assert report.ok
    assert (report.accounts, report.entries, report.total_balance) == (1, 2, 30)


def test_a_tampered_balance_is_found(session_factory: Factory, clock: FixedClock) -> None:
    member = _seed(session_factory, clock)
    with transaction(session_factory) as session:
        session.execute(text("UPDATE points_accounts SET balance = 1000, earned = 9"))

    report = in_tx(session_factory, verify_ledger)

    assert not report.ok
    assert f"member {member} (bridge:u-001): balance 1000 != ledger sum 30" in report.problems
    assert f"member {member} (bridge:u-001): earned 9 != ledger earned 50" in report.problems


def test_a_tampered_entry_breaks_the_running_total(
    session_factory: Factory, clock: FixedClock, is_postgres: bool
) -> None:
    member = _seed(session_factory, clock)
    with transaction(session_factory) as session:  # an attacker with DDL rights
        if is_postgres:
            session.execute(text("ALTER TABLE points_ledger DISABLE TRIGGER USER"))
        else:
            session.execute(text("DROP TRIGGER points_ledger_no_update"))
        session.execute(text("UPDATE points_ledger SET delta = 40 WHERE delta = 50"))
        session.execute(text("UPDATE points_accounts SET balance = 20, earned = 40"))
        if is_postgres:
            session.execute(text("ALTER TABLE points_ledger ENABLE TRIGGER USER"))

    report = in_tx(session_factory, verify_ledger)

    assert report.problems == [f"member {member}: entry 1 balance_after 50 != running total 40"]


def test_entries_without_an_account_are_found(session_factory: Factory, clock: FixedClock) -> None:
    member = _seed(session_factory, clock)
    with transaction(session_factory) as session:
        session.execute(text("DELETE FROM points_accounts"))

    report = in_tx(session_factory, verify_ledger)

    assert report.problems == [f"member {member}: ledger entries but no account"]
