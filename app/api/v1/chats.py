"""Admin: list chats, register one before its first message, set its profile/tags/robot."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from app.api.deps import RuntimeDep, SessionDep
from app.api.v1.schemas import iso
from app.db.models import Chat

router = APIRouter(tags=["chats"])
PLATFORMS = "^(bridge|wecom_app|wecom_bot|console)$"


class ChatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    platform: Annotated[str, Field(pattern=PLATFORMS)] = "bridge"
    chat_id: Annotated[str, Field(min_length=1, max_length=128)]
    name: Annotated[str | None, Field(max_length=128)] = None
    profile: Annotated[str | None, Field(max_length=32)] = None
    tags: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=32)]], Field(max_length=20)
    ] = []
    robot: Annotated[str | None, Field(max_length=64)] = None


def _out(chat: Chat, runtime: RuntimeDep) -> dict[str, Any]:
    return {
        "id": chat.id,
        "platform": chat.platform,
        "chat_id": chat.external_id,
        "name": chat.name,
        "is_group": chat.is_group,
        "profile": chat.profile,
        "tags": chat.tags or [],
        "robot": chat.robot,
        "created_at": iso(chat.created_at, runtime.settings.tz),
    }


@router.get("/chats")
def list_chats(
    session: SessionDep,
    runtime: RuntimeDep,
    platform: Annotated[str | None, Query(pattern=PLATFORMS)] = None,
    tag: str | None = None,
) -> dict[str, Any]:
    stmt = select(Chat).order_by(Chat.id)
    if platform:
        stmt = stmt.where(Chat.platform == platform)
    chats = [c for c in session.scalars(stmt).all() if tag is None or tag in (c.tags or [])]
    return {"items": [_out(chat, runtime) for chat in chats]}


@router.put("/chats")
def upsert_chat(body: ChatIn, session: SessionDep, runtime: RuntimeDep) -> dict[str, Any]:
    """Register a chat (or update its settings); the platform's own chat id is the key."""
    chat = session.scalar(
        select(Chat).where(Chat.platform == body.platform, Chat.external_id == body.chat_id)
    )
    if chat is None:
        chat = Chat(
            platform=body.platform,
            external_id=body.chat_id,
            is_group=True,
            created_at=runtime.deps.clock.now(),
            tags=[],
        )
        session.add(chat)
    chat.name = body.name if body.name is not None else chat.name
    chat.profile = body.profile
    chat.tags = list(dict.fromkeys(body.tags))
    chat.robot = body.robot
    session.flush()
    return _out(chat, runtime)


@router.get("/chats/{platform}/{chat_id}")
def get_chat(
    platform: str, chat_id: str, session: SessionDep, runtime: RuntimeDep
) -> dict[str, Any]:
    chat = session.scalar(
        select(Chat).where(Chat.platform == platform, Chat.external_id == chat_id)
    )
    if chat is None:
        raise HTTPException(404, detail="no such chat")
    return _out(chat, runtime)
