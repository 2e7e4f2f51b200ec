"""`qunyun demo`: seed a demo community (花屿花艺) so a fresh install has something to show.

Idempotent: running it twice changes nothing the second time.
Creates two bridge groups with members; features add their own demo data through `SEEDERS`.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from app.cli.common import load_settings
from app.clock import SystemClock
from app.db.migrate import upgrade
from app.db.session import make_engine, make_session_factory, transaction
from app.faq.demo import seed_demo_faq
from app.messages import ChatRef, Platform, Role
from app.services.checkin_campaigns import seed_demo_campaign
from app.services.flash_sale_demo import seed_demo as seed_demo_sale
from app.services.members import MembersService
from app.services.moderation_demo import seed_demo_moderation
from app.services.posts import seed_demo_posts

DEMO_CHATS = (("g-001", "花屿会员1群"), ("g-002", "花屿会员2群"))
DEMO_MEMBERS = (
    ("u-001", "小满", Role.MEMBER),
    ("u-002", "阿青", Role.MEMBER),
    ("u-003", "木木", Role.MEMBER),
    ("u-admin", "花屿-小满", Role.ADMIN),
)

Seeder = Callable[[Session], None]


def seed_community(session: Session) -> None:
    now = SystemClock().now()
    members = MembersService(session)
    for chat_id, name in DEMO_CHATS:
        chat_pk = members.ensure_chat(ChatRef(Platform.BRIDGE, chat_id, True, name), now=now)
        for user_id, user_name, role in DEMO_MEMBERS:
            member_pk = members.ensure_member(
                str(Platform.BRIDGE), user_id, name=user_name, role=role, now=now
            )
            members.touch(chat_pk, member_pk, now=now, counts=False)


SEEDERS: list[Seeder] = [seed_community]
SEEDERS.append(seed_demo_campaign)  # points: the default 每日签到 check-in campaign
SEEDERS.append(seed_demo_sale)  # flash sales: 3 items, tomorrow 10:00
SEEDERS.append(seed_demo_posts)  # content calendar: 每周花卉知识, 每月促销 (in review)
SEEDERS.append(seed_demo_faq)  # FAQ: 8 flower-shop entries (运费, 当日达, 积分 …)
SEEDERS.append(seed_demo_moderation)  # group rules: g-001 is a 'core' group; one open case


def demo() -> None:
    """Create the demo groups, members and feature data (idempotent)."""
    settings = load_settings()
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            for seeder in SEEDERS:
                seeder(session)
    finally:
        engine.dispose()
    print("demo community ready: " + ", ".join(f"{n} ({c})" for c, n in DEMO_CHATS))
