"""The demo seeder: a 'core' group and one open case, idempotent."""

from __future__ import annotations

from app.db.session import transaction
from app.runtime import Runtime
from app.services.moderation_demo import seed_demo_moderation
from tests.moderation.db_helpers import cases, in_services
from tests.points_helpers import seed_member


def test_seeding_twice_stores_one_core_group_and_one_case(runtime: Runtime) -> None:
    now = runtime.deps.clock.now()
    seed_member(runtime.deps.session_factory, now, user="u-003", name="木木", chat="g-002")

    for _ in range(2):
        with transaction(runtime.deps.session_factory) as session:
            seed_demo_moderation(session)

    scope = in_services(runtime, lambda s: s.moderation.config.scope_rules("bridge", "g-001"))
    version = in_services(runtime, lambda s: s.moderation.config.version())
    assert scope.scope == "group g-001"
    flood = scope.rule("flood")
    assert flood is not None
    assert getattr(flood, "max_messages", None) == 10  # the core profile's value
    assert version == 1
    (case,) = cases(runtime)
    assert (case.status, case.actions, case.category) == ("open", ["warn"], "ad")
