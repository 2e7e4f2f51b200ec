"""Presence of a batch of messages: the same rows the per-message upserts would leave."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.db.models import Chat, ChatMember, Member
from app.db.session import transaction
from app.messages import ChatRef, Kind, Platform, Role
from app.services.members import MembersService
from app.services.presence import BatchPresence
from tests.factories import make_message

OTHER = ChatRef(Platform.BRIDGE, "g-002", is_group=True, name="花屿会员2群")


def _member(factory: sessionmaker[Session], user: str) -> Member:
    with factory() as session:
        return session.scalars(select(Member).where(Member.external_id == user)).one()


def _presence(factory: sessionmaker[Session], member_pk: int) -> dict[int, tuple[int, object]]:
    with factory() as session:
        rows = session.scalars(select(ChatMember).where(ChatMember.member_id == member_pk))
        return {row.chat_id: (row.message_count, row.last_active_at) for row in rows}


def test_a_batch_records_chats_members_and_counts_in_a_few_statements(
    session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    t0 = clock.now()
    with transaction(session_factory) as session:
        known = MembersService(session).ensure_member(
            "bridge", "u-old", name="老会员", role=Role.MEMBER, now=t0 - timedelta(days=3)
        )
    messages = [
        make_message("早", at=t0, user="u-old"),
        make_message("大家好", at=t0 + timedelta(seconds=5), user="u-new", role=Role.ADMIN),
        make_message("再来", at=t0 + timedelta(seconds=9), user="u-old", chat=OTHER),
        make_message("加入", at=t0 + timedelta(seconds=2), user="u-old", kind=Kind.MEMBER_JOIN),
        make_message("三", at=t0 + timedelta(seconds=7), user="u-old"),
    ]
    with transaction(session_factory) as session:
        presence = BatchPresence(session)
        seen = presence.prepare(messages)
        assert seen[0].member_pk == known
        assert seen[1].member_pk != known
        assert seen[0].chat_pk == seen[1].chat_pk != seen[2].chat_pk
        # Every sender is present in its chat before any handler runs.
        assert _count_presence(session, seen[1].member_pk) == 1
        presence.settle(list(zip(messages, seen, strict=True)))

    old = _member(session_factory, "u-old")
    assert old.first_seen_at == t0 - timedelta(days=3)
    assert old.last_active_at == t0 + timedelta(seconds=9)
    counts = _presence(session_factory, known)
    assert counts[seen[0].chat_pk] == (2, t0 + timedelta(seconds=7))  # the join does not count
    assert counts[seen[2].chat_pk] == (1, t0 + timedelta(seconds=9))
    new = _member(session_factory, "u-new")
    assert (new.name, new.role) == ("小满", "admin")
    assert _presence(session_factory, new.id) == {seen[1].chat_pk: (1, t0 + timedelta(seconds=5))}


def test_messages_left_out_of_settle_are_not_counted(
    session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    messages = [make_message("一", at=clock.now()), make_message("二", at=clock.now())]
    with transaction(session_factory) as session:
        presence = BatchPresence(session)
        seen = presence.prepare(messages)
        presence.settle([(messages[0], seen[0])])  # the second one failed: counted on retry

    assert _presence(session_factory, seen[0].member_pk)[seen[0].chat_pk][0] == 1


def _count_presence(session: Session, member_pk: int) -> int:
    rows = session.scalars(select(ChatMember.id).where(ChatMember.member_id == member_pk))
    return len(list(rows))


def test_a_batch_finds_known_chats_and_renames_a_renamed_one(
    session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    with transaction(session_factory) as session:
        known = MembersService(session).ensure_chat(OTHER, now=clock.now())
    renamed = ChatRef(Platform.BRIDGE, OTHER.chat_id, is_group=True, name="花屿会员二群")
    unnamed = ChatRef(Platform.BRIDGE, OTHER.chat_id, is_group=True)
    messages = [
        make_message("一", at=clock.now(), chat=OTHER),
        make_message("二", at=clock.now(), chat=unnamed),
        make_message("三", at=clock.now(), chat=renamed),
        make_message("四", at=clock.now()),  # a chat never seen before
    ]

    with transaction(session_factory) as session:
        seen = BatchPresence(session).prepare(messages)

    assert [s.chat_pk for s in seen[:3]] == [known] * 3
    assert seen[3].chat_pk != known
    with session_factory() as session:
        names = {row.id: row.name for row in session.execute(select(Chat.id, Chat.name))}
    assert names[known] == "花屿会员二群"
    assert names[seen[3].chat_pk] is not None


def test_first_time_senders_of_a_batch_are_created_together_and_matched_to_their_messages(
    session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    t0 = clock.now()
    users = [("u-a", Role.MEMBER), ("u-b", Role.ADMIN), ("u-c", Role.OWNER), ("u-d", Role.MEMBER)]
    messages = [
        make_message(f"第一次发言 {n}", at=t0 + timedelta(seconds=n), user=user, role=role)
        for n, (user, role) in enumerate(users)
    ]
    messages.append(make_message("又来了", at=t0 + timedelta(seconds=9), user="u-b"))
    with transaction(session_factory) as session:
        presence = BatchPresence(session)
        seen = presence.prepare(messages)
        presence.settle(list(zip(messages, seen, strict=True)))

    for message, pks in zip(messages, seen, strict=True):
        assert _member(session_factory, message.sender_id).id == pks.member_pk
    assert len({pks.member_pk for pks in seen}) == 4
    admin = _member(session_factory, "u-b")
    assert admin.first_seen_at == t0 + timedelta(seconds=1)
    assert admin.last_active_at == t0 + timedelta(seconds=9)
    assert admin.role == "member"  # the later message's role (make_message's default) wins
    assert _member(session_factory, "u-c").role == "owner"
