"""Services: the business rules, as a typed bundle handlers reach through `ctx.services`.

`AppDeps` lives for the whole process (settings, clock, caches); `Services` is built per
transaction around one SQLAlchemy session, so everything a handler changes commits together.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from app.clock import Clock
from app.faq.cache import FaqIndexCache
from app.moderation.cache import RulesCache
from app.moderation.wave_window import WaveWindow
from app.services.checkin import CheckinService
from app.services.faq import FaqService, snapshot_loader
from app.services.flash_sale_config import load_flash_sale_config
from app.services.flash_sales import FlashSaleService
from app.services.members import MembersService
from app.services.moderation import ModerationService
from app.services.points import PointsService
from app.services.points_activity import ActivityPoints
from app.services.points_config import load_points_config
from app.services.texts import Texts
from app.services.tickets import TicketsService
from app.settings import Settings


@dataclass(frozen=True, slots=True)
class AppDeps:
    """Process-wide dependencies, built once in the composition root (app/main.py, CLI)."""

    settings: Settings
    clock: Clock
    session_factory: sessionmaker[Session]
    texts: Texts
    faq: FaqIndexCache = field(default_factory=FaqIndexCache)  # the FAQ index in force
    moderation: RulesCache = field(default_factory=RulesCache)  # moderation rules in force
    recent_messages: WaveWindow = field(default_factory=WaveWindow)  # for spam waves


@dataclass(frozen=True, slots=True)
class Services:
    session: Session
    deps: AppDeps
    members: MembersService
    points: PointsService
    activity: ActivityPoints
    checkin: CheckinService
    flash_sales: FlashSaleService
    faq: FaqService
    tickets: TicketsService
    moderation: ModerationService

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
            activity=ActivityPoints(points),
            checkin=CheckinService(session, points),
            flash_sales=FlashSaleService(
                session, points, load_flash_sale_config(), deps.clock, deps.settings.tz
            ),
            faq=FaqService(session, deps.faq, snapshot_loader(deps.session_factory)),
            tickets=TicketsService(session, deps.faq.config, deps.settings.tz),
            moderation=ModerationService(
                session,
                deps.moderation,
                deps.clock,
                deps.settings.tz,
                points,
                deps.recent_messages,
            ),
        )
