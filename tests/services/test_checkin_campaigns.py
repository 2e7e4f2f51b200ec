"""Check-in campaigns: the default campaign seeder is idempotent and used by 签到."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.db.models import CheckinCampaign
from app.services.checkin_campaigns import DEFAULT_CAMPAIGN_NAME, plan_for, seed_default_campaign
from app.services.points_config import load_points_config
from tests.points_helpers import count, in_tx, seed_member

Factory = sessionmaker[Session]


def test_the_default_campaign_is_seeded_once_and_applies_everywhere(
    session_factory: Factory, clock: FixedClock
) -> None:
    rules = load_points_config().rules
    seed_member(session_factory, clock.now())
    start = clock.now() - timedelta(hours=1)

    created = in_tx(session_factory, lambda s: seed_default_campaign(s, now=start, rules=rules))
    again = in_tx(session_factory, lambda s: seed_default_campaign(s, now=start, rules=rules))
    plan = in_tx(session_factory, lambda s: plan_for(s, "bridge:g-001", clock.now(), rules))

    assert (created, again) == (True, False)
    assert count(session_factory, CheckinCampaign) == 1
    assert plan.campaign_id is not None
    assert (plan.name, plan.points, plan.bonuses) == (DEFAULT_CAMPAIGN_NAME, 10, {7: 20, 30: 100})


def test_without_campaigns_the_config_defaults_apply(
    session_factory: Factory, clock: FixedClock
) -> None:
    rules = load_points_config().rules
    seed_member(session_factory, clock.now())

    plan = in_tx(session_factory, lambda s: plan_for(s, "bridge:g-001", clock.now(), rules))

    assert (plan.campaign_id, plan.points) == (None, rules.checkin_points)
