"""All tables. Each feature keeps its models in its own module; importing this package
registers every table on `Base.metadata` (Alembic and the test schema rely on that)."""

from app.db.base import Base
from app.db.models.core import (
    Chat,
    ChatMember,
    InboxRow,
    Member,
    MemberEvent,
    OutboxRow,
    ProcessedKey,
    RateEvent,
)
from app.db.models.faq import FaqEntry, FaqHit, FaqMiss, FaqState, Ticket
from app.db.models.flash_sales import (
    FlashSale,
    FlashSaleBlock,
    FlashSaleChat,
    FlashSaleHolding,
    FlashSaleItem,
    FlashSaleOrder,
    FlashSaleWaitlist,
)
from app.db.models.moderation import (
    ModerationActivity,
    ModerationAppeal,
    ModerationBlacklist,
    ModerationCase,
    ModerationScope,
    ModerationState,
    ModerationTask,
    ModerationTerm,
)
from app.db.models.points import (
    Checkin,
    CheckinCampaign,
    CheckinCounter,
    PointsAccount,
    PointsDaily,
    PointsEntry,
)
from app.db.models.posts import (
    Campaign,
    CampaignAnnouncement,
    Post,
    PostDelivery,
    PostOccurrence,
    PostRevision,
)

__all__ = [
    "Base",
    "Campaign",
    "CampaignAnnouncement",
    "Chat",
    "ChatMember",
    "Checkin",
    "CheckinCampaign",
    "CheckinCounter",
    "FaqEntry",
    "FaqHit",
    "FaqMiss",
    "FaqState",
    "FlashSale",
    "FlashSaleBlock",
    "FlashSaleChat",
    "FlashSaleHolding",
    "FlashSaleItem",
    "FlashSaleOrder",
    "FlashSaleWaitlist",
    "InboxRow",
    "Member",
    "MemberEvent",
    "ModerationActivity",
    "ModerationAppeal",
    "ModerationBlacklist",
    "ModerationCase",
    "ModerationScope",
    "ModerationState",
    "ModerationTask",
    "ModerationTerm",
    "OutboxRow",
    "PointsAccount",
    "PointsDaily",
    "PointsEntry",
    "Post",
    "PostDelivery",
    "PostOccurrence",
    "PostRevision",
    "ProcessedKey",
    "RateEvent",
    "Ticket",
]
