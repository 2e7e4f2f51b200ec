"""Admin: moderation rules per scope, a dry-run check, imported words, whitelist and blacklist.

Rules: `GET|PUT|DELETE /moderation/rules/defaults`, `/moderation/rules/profiles/{name}`,
`/moderation/rules/groups/{chat_id}?platform=` — a stored document replaces the file's profile
or group (the defaults change key by key; see app/moderation/overlay.py). A PUT is validated
with everything else first: a bad document is a 422 naming the field, nothing is stored and the
rules in force stay. Every change moves the rules version, so every process follows at its next
message. `POST /moderation/check` judges content with the rules in force and writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, HTTPException, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api.deps import RuntimeDep, SessionDep
from app.api.v1.schemas import Platform, iso
from app.db.models import ModerationScope, ModerationTerm
from app.messages import Kind
from app.moderation.lexicon import make_term
from app.moderation.overlay import DEFAULTS
from app.moderation.rules import EffectiveRules
from app.moderation.verdict import ContentVerdict
from app.runtime import Runtime
from app.services import Services
from app.services.moderation_cases import hit_record
from app.services.moderation_config import ModerationError, group_scope
from app.services.moderation_lists import BlacklistRow, ModerationLists

router = APIRouter(prefix="/moderation", tags=["moderation"])
T = TypeVar("T")
PLATFORMS = "^(bridge|wecom_app|wecom_bot|console)$"
Name = Annotated[str, Field(min_length=1, max_length=128)]
Document = Annotated[dict[str, Any], Body()]
Term = Annotated[str, Field(min_length=1, max_length=191)]


class CheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, Field(max_length=20_000)] = ""
    type: Kind = Kind.TEXT
    url: Annotated[str | None, Field(max_length=2048)] = None
    title: Annotated[str | None, Field(max_length=512)] = None
    platform: Annotated[str, Field(pattern=PLATFORMS)] = "bridge"
    chat_id: Annotated[str | None, Field(min_length=1, max_length=128)] = None


class TermsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    terms: Annotated[list[Term], Field(min_length=1, max_length=20_000)]
    category: Annotated[str, Field(pattern="^(ad|spam|abuse|scam|other)$")] = "other"


class WhitelistIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Name
    platform: Annotated[str, Field(pattern=PLATFORMS)] = "bridge"
    chat_id: Name | None = None  # None: every group


class BlacklistIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Name
    platform: Annotated[str, Field(pattern=PLATFORMS)] = "bridge"
    reason: Annotated[str, Field(max_length=1000)] = ""
    by: Annotated[str | None, Field(max_length=64)] = None


def _services(session: Session, runtime: Runtime) -> Services:
    return Services.build(session, runtime.deps)


def _run(call: Callable[[], T]) -> T:
    try:
        return call()
    except ModerationError as error:
        raise HTTPException(error.status, detail=error.reason) from None


# -- rules -----------------------------------------------------------------------------------
@router.get("/rules")
def list_rules(session: SessionDep, runtime: RuntimeDep) -> dict[str, Any]:
    """The rules version, every stored scope document, and the profiles and groups in force."""
    config = _services(session, runtime).moderation.config
    rules = config.loaded().rules
    stored = session.scalars(select(ModerationScope).order_by(ModerationScope.scope))
    return {
        "version": config.version(),
        "stored": [
            {
                "scope": row.scope,
                "document": row.document,
                "updated_at": iso(row.updated_at, runtime.settings.tz),
                "updated_by": row.updated_by,
            }
            for row in stored
        ],
        "profiles": sorted(rules.profiles),
        "groups": sorted(rules.groups),
        "terms": config.term_count(),
    }


@router.get("/rules/defaults")
def get_defaults(session: SessionDep, runtime: RuntimeDep) -> dict[str, Any]:
    return _scope_view(session, runtime, DEFAULTS)


@router.put("/rules/defaults")
def put_defaults(document: Document, session: SessionDep, runtime: RuntimeDep) -> dict[str, Any]:
    """Change the defaults: {"settings", "ladders", "texts", "rules": {id: changes}}."""
    return _put(session, runtime, DEFAULTS, document)


@router.delete("/rules/defaults", status_code=204)
def delete_defaults(session: SessionDep, runtime: RuntimeDep) -> Response:
    return _delete(session, runtime, DEFAULTS)


@router.get("/rules/profiles/{name}")
def get_profile(name: str, session: SessionDep, runtime: RuntimeDep) -> dict[str, Any]:
    return _scope_view(session, runtime, f"profile:{name}")


@router.put("/rules/profiles/{name}")
def put_profile(
    name: str, document: Document, session: SessionDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """Store a profile (as in the file's [profiles.<name>]); it replaces the file's."""
    return _put(session, runtime, f"profile:{name}", document)


@router.delete("/rules/profiles/{name}", status_code=204)
def delete_profile(name: str, session: SessionDep, runtime: RuntimeDep) -> Response:
    return _delete(session, runtime, f"profile:{name}")


@router.get("/rules/groups/{chat_id}")
def get_group(
    chat_id: str, session: SessionDep, runtime: RuntimeDep, platform: Platform = "bridge"
) -> dict[str, Any]:
    return _scope_view(session, runtime, group_scope(platform, chat_id), (platform, chat_id))


@router.put("/rules/groups/{chat_id}")
def put_group(
    chat_id: str,
    document: Document,
    session: SessionDep,
    runtime: RuntimeDep,
    platform: Platform = "bridge",
) -> dict[str, Any]:
    """Store a group's rules (as in the file's [groups."<chat id>"], profile included)."""
    scope = group_scope(platform, chat_id)
    return _put(session, runtime, scope, document, (platform, chat_id))


@router.delete("/rules/groups/{chat_id}", status_code=204)
def delete_group(
    chat_id: str, session: SessionDep, runtime: RuntimeDep, platform: Platform = "bridge"
) -> Response:
    return _delete(session, runtime, group_scope(platform, chat_id))


def _put(
    session: Session,
    runtime: Runtime,
    scope: str,
    document: Mapping[str, Any],
    chat: tuple[str, str] | None = None,
) -> dict[str, Any]:
    config = _services(session, runtime).moderation.config
    _run(lambda: config.put_scope(scope, document, by="admin"))
    return _scope_view(session, runtime, scope, chat)


def _delete(session: Session, runtime: Runtime, scope: str) -> Response:
    config = _services(session, runtime).moderation.config
    if _run(lambda: config.delete_scope(scope)) is None:
        raise HTTPException(404, detail=f"nothing stored for {scope}")
    return Response(status_code=204)


def _scope_view(
    session: Session, runtime: Runtime, scope: str, chat: tuple[str, str] | None = None
) -> dict[str, Any]:
    config = _services(session, runtime).moderation.config
    _run(lambda: config.check_scope(scope))
    stored = config.stored().get(scope)
    file_doc = config.file_document(scope)
    loaded = config.loaded()
    if scope.startswith("profile:"):
        name = scope.removeprefix("profile:")
        if name not in loaded.rules.profiles:
            raise HTTPException(404, detail=f"no profile {name!r}")
        effective = loaded.rules.for_profile(name)
    else:
        effective = config.scope_rules(*chat) if chat else loaded.scope(())
    return {
        "scope": scope,
        "version": config.version(),
        "stored": stored,
        "file": file_doc,
        "effective": _effective(effective),
    }


def _effective(rules: EffectiveRules) -> dict[str, Any]:
    return {
        "scope": rules.scope,
        "settings": rules.settings.model_dump(mode="json"),
        "rules": [rule.model_dump(mode="json") for rule in rules.rules],
        "ladders": {
            name: ladder.model_dump(mode="json") for name, ladder in rules.ladders.items()
        },
    }


# -- dry run ---------------------------------------------------------------------------------
@router.post("/check")
def check(body: CheckIn, session: SessionDep, runtime: RuntimeDep) -> dict[str, Any]:
    """Judge content with the rules in force for a group (or the defaults); no side effects."""
    config = _services(session, runtime).moderation.config
    rules = config.scope_rules(body.platform, body.chat_id)
    checker = config.loaded().checker(rules)
    verdict = checker.check(body.text, body.type, url=body.url, title=body.title)
    return {"text": body.text, **verdict_json(verdict), "scope": rules.scope}


def verdict_json(verdict: ContentVerdict) -> dict[str, Any]:
    return {
        "violation": verdict.violation,
        "category": verdict.category,
        "rules": list(verdict.rules),
        "hits": [hit_record(hit) for hit in verdict.hits],
        "signals": [hit_record(hit) for hit in verdict.signals],
        "normalized": verdict.normalized,
        "links": list(verdict.links),
    }


# -- words -----------------------------------------------------------------------------------
@router.get("/terms")
def list_terms(
    session: SessionDep,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Imported words, oldest first (configured words live in config/moderation.toml)."""
    config = _services(session, runtime).moderation.config
    rows = session.scalars(
        select(ModerationTerm).order_by(ModerationTerm.id).limit(limit).offset(offset)
    )
    items = [
        {"id": t.id, "term": t.term, "category": t.category, "source": t.source} for t in rows
    ]
    return {"items": items, "total": config.term_count()}


@router.post("/terms")
def import_terms(body: TermsIn, session: SessionDep, runtime: RuntimeDep) -> dict[str, Any]:
    """Add banned words of one category (known ones are skipped)."""
    config = _services(session, runtime).moderation.config
    try:
        terms = [make_term(term, body.category) for term in body.terms]
        result = config.import_terms(terms, source="api")
    except ValueError as error:
        raise HTTPException(422, detail=str(error)) from None
    return {"added": result.added, "existing": result.existing, "version": config.version()}


# -- whitelist and blacklist -----------------------------------------------------------------
def _lists(session: Session, runtime: Runtime) -> ModerationLists:
    moderation = _services(session, runtime).moderation
    return ModerationLists(moderation.config, moderation.actions)


def _whitelist_scope(platform: str, chat_id: str | None) -> str:
    return DEFAULTS if chat_id is None else group_scope(platform, chat_id)


@router.get("/whitelist")
def get_whitelist(session: SessionDep, runtime: RuntimeDep) -> dict[str, Any]:
    entries = _lists(session, runtime).whitelist()
    return {
        "items": [{"user_id": e.user_id, "scope": e.scope, "stored": e.stored} for e in entries]
    }


@router.post("/whitelist")
def add_to_whitelist(
    body: WhitelistIn, session: SessionDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """Never moderate this member (everywhere, or in one group)."""
    lists = _lists(session, runtime)
    scope = _whitelist_scope(body.platform, body.chat_id)
    version = _run(lambda: lists.whitelist_add(scope, body.user_id, by="admin"))
    return {"user_id": body.user_id, "scope": scope, "version": version}


@router.delete("/whitelist/{user_id}")
def remove_from_whitelist(
    user_id: str,
    session: SessionDep,
    runtime: RuntimeDep,
    platform: Platform = "bridge",
    chat_id: Annotated[str | None, Query(max_length=128)] = None,
) -> dict[str, Any]:
    lists = _lists(session, runtime)
    scope = _whitelist_scope(platform, chat_id)
    version = _run(lambda: lists.whitelist_remove(scope, user_id, by="admin"))
    return {"user_id": user_id, "scope": scope, "version": version}


@router.get("/blacklist")
def get_blacklist(
    session: SessionDep,
    runtime: RuntimeDep,
    active: bool = True,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    rows = _lists(session, runtime).blacklist(active_only=active, limit=limit, offset=offset)
    return {"items": [_blacklisted(row, runtime) for row in rows]}


@router.post("/blacklist")
def add_to_blacklist(
    body: BlacklistIn, session: SessionDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """Blacklist a known member: their next message in any group requests their removal."""
    lists = _lists(session, runtime)
    row = _run(
        lambda: lists.blacklist_add(
            body.platform, body.user_id, body.reason, by=body.by or "admin"
        )
    )
    return _blacklisted(row, runtime)


@router.delete("/blacklist/{user_id}")
def lift_blacklist(
    user_id: str, session: SessionDep, runtime: RuntimeDep, platform: Platform = "bridge"
) -> dict[str, Any]:
    lists = _lists(session, runtime)
    lifted = _run(lambda: lists.blacklist_lift(platform, user_id, by="admin"))
    return {"user_id": user_id, "platform": platform, "lifted": lifted}


def _blacklisted(row: BlacklistRow, runtime: Runtime) -> dict[str, Any]:
    entry, tz = row.entry, runtime.settings.tz
    return {
        "id": entry.id,
        "platform": row.platform,
        "user_id": row.user_id,
        "member_name": row.member_name,
        "reason": entry.reason,
        "case_id": entry.case_id,
        "created_at": iso(entry.created_at, tz),
        "created_by": entry.created_by,
        "lifted_at": iso(entry.lifted_at, tz),
        "lifted_by": entry.lifted_by,
    }
