"""Services: the business rules, as a typed bundle handlers reach through `ctx.services`.

`AppDeps` lives for the whole process (settings, clock, caches); `Services` is built per
transaction around one SQLAlchemy session, so everything a handler changes commits together.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from app.clock import Clock
from app.services.checkin import CheckinService
from app.services.members import MembersService
from app.services.points import PointsService
from app.services.points_config import load_points_config
from app.services.texts import Texts
from app.settings import Settings


@dataclass(frozen=True, slots=True)
class AppDeps:
    """Process-wide dependencies, built once in the composition root (app/main.py, CLI)."""

    settings: Settings
    clock: Clock
    session_factory: sessionmaker[Session]
    texts: Texts


@dataclass(frozen=True, slots=True)
class Services:
    session: Session
    deps: AppDeps
    members: MembersService
    points: PointsService
    checkin: CheckinService

    @property
    def texts(self) -> Texts:
        return self.deps.texts

    @classmethod
    def build(cls, session: Session, deps: AppDeps) -> Services:
        points = PointsService(session, load_points_config(), deps.clock, deps.settings.tz)
        return cls(
            session=session,
            deps=deps,
            members=MembersService(session),
            points=points,
            checkin=CheckinService(session, points),
        )
