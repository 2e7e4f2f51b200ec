"""Admin FAQ API: auth, CRUD that answers at once, CSV import errors that change nothing,
export, the test match and statistics."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.clock import FixedClock
from app.faq.csv_io import write_kb_csv
from app.runtime import Runtime
from tests.conftest import BRIDGE_SECRET
from tests.factories import bridge_event, signed
from tests.faq.conftest import TINY_KB

KB_CSV = write_kb_csv(TINY_KB).encode()
HEADER = "id,question,similar_questions,answer,tags\n"


def _import(client: TestClient, headers: dict[str, str], data: bytes) -> Any:
    return client.post(
        "/api/v1/faq/import", content=data, headers={**headers, "Content-Type": "text/csv"}
    )


def _export(client: TestClient, headers: dict[str, str]) -> str:
    response = client.get("/api/v1/faq/export.csv", headers=headers)
    assert response.status_code == 200
    return str(response.text)


def _match(client: TestClient, headers: dict[str, str], q: str) -> Any:
    return client.post("/api/v1/faq/match", json={"q": q}, headers=headers).json()


def test_faq_api_requires_the_bearer_token(client: TestClient) -> None:
    assert client.get("/api/v1/faq/entries").status_code == 401
    assert client.post("/api/v1/faq/import", content=KB_CSV).status_code == 401
    assert (
        client.get("/api/v1/faq/stats", headers={"Authorization": "Bearer no"}).status_code == 401
    )


def test_import_then_export_round_trips(client: TestClient, admin_headers: dict[str, str]) -> None:
    first = _import(client, admin_headers, KB_CSV)
    again = _import(client, admin_headers, KB_CSV)

    assert first.json() == {"created": len(TINY_KB), "updated": 0, "total": len(TINY_KB)}
    assert again.json()["created"] == 0
    assert _export(client, admin_headers) == KB_CSV.decode()
    assert _match(client, admin_headers, "積分怎麼用？")["entry_id"] == "S3"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"id,question,answer\nX1,q,a\n", "line 1: the header must be exactly"),
        ((HEADER + "X1,新问题,,新答案,\n,没有编号,,答案,\n").encode(), "line 3: missing id"),
        ((HEADER + "S1,运费?,,6元,\nS1,又是运费,,7元,\n").encode(), "line 3: duplicate id 'S1'"),
        ((HEADER + "X1,新问题,,新答案,\n").encode("gbk"), "line 2: the file is not valid UTF-8"),
    ],
)
def test_a_bad_file_is_rejected_with_its_line_and_changes_nothing(
    client: TestClient, admin_headers: dict[str, str], data: bytes, reason: str
) -> None:
    _import(client, admin_headers, KB_CSV)
    before = _export(client, admin_headers)

    response = _import(client, admin_headers, data)

    assert response.status_code == 422
    assert response.json()["detail"].startswith(reason)
    assert _export(client, admin_headers) == before


def test_crud_takes_effect_without_a_restart(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    entry = {
        "id": "N1",
        "question": "能送到学校吗？",
        "similar_questions": ["宿舍能收花吗"],
        "answer": "可以送到校门口。",
        "tags": ["配送"],
    }
    created = client.post("/api/v1/faq/entries", json=entry, headers=admin_headers)
    duplicate = client.post("/api/v1/faq/entries", json=entry, headers=admin_headers)
    answered = _match(client, admin_headers, "宿舍能收花吗？")
    edited = client.put(
        "/api/v1/faq/entries/N1",
        json={**{k: v for k, v in entry.items() if k != "id"}, "answer": "送到宿舍楼下。"},
        headers=admin_headers,
    )
    disabled = client.put(
        "/api/v1/faq/entries/N1",
        json={**{k: v for k, v in entry.items() if k != "id"}, "enabled": False},
        headers=admin_headers,
    )
    silent = _match(client, admin_headers, "宿舍能收花吗？")
    deleted = client.delete("/api/v1/faq/entries/N1", headers=admin_headers)
    missing = client.get("/api/v1/faq/entries/N1", headers=admin_headers)

    assert created.status_code == 201
    assert created.json()["scope"] == {"chats": [], "tags": []}
    assert duplicate.status_code == 409
    assert answered["entry_id"] == "N1"
    assert edited.json()["answer"] == "送到宿舍楼下。"
    assert disabled.json()["enabled"] is False
    assert silent["entry_id"] is None
    assert deleted.status_code == 200
    assert missing.status_code == 404


def test_bad_entry_input_is_422_and_nothing_written(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    no_answer = client.post(
        "/api/v1/faq/entries", json={"id": "N2", "question": "q"}, headers=admin_headers
    )
    spaced_id = client.post(
        "/api/v1/faq/entries",
        json={"id": "N 2", "question": "q", "answer": "a"},
        headers=admin_headers,
    )
    backwards = client.post(
        "/api/v1/faq/entries",
        json={
            "id": "N3",
            "question": "q",
            "answer": "a",
            "valid_from": "2026-12-01T00:00:00",
            "valid_until": "2026-11-01T00:00:00",
        },
        headers=admin_headers,
    )

    assert [r.status_code for r in (no_answer, spaced_id, backwards)] == [422, 422, 422]
    assert client.get("/api/v1/faq/entries", headers=admin_headers).json()["items"] == []


def test_scoped_entry_lists_its_groups(client: TestClient, admin_headers: dict[str, str]) -> None:
    response = client.post(
        "/api/v1/faq/entries",
        json={
            "id": "V1",
            "question": "会员日是哪天？",
            "answer": "每月 8 号。",
            "scope": {"chat_ids": ["g-vip"], "tags": ["vip"]},
        },
        headers=admin_headers,
    )

    assert response.json()["scope"] == {
        "chats": [{"platform": "bridge", "chat_id": "g-vip"}],
        "tags": ["vip"],
    }


def test_stats_after_bridge_messages(
    client: TestClient, admin_headers: dict[str, str], runtime: Runtime, clock: FixedClock
) -> None:
    _import(client, admin_headers, KB_CSV)
    for text in ("积分怎么用？", "你们招不招花艺师？"):
        body, headers = signed(
            bridge_event(text, at=clock.now()),
            BRIDGE_SECRET,
            timestamp=int(clock.now().timestamp()),
        )
        client.post("/callbacks/bridge", content=body, headers=headers)
    runtime.worker.drain()

    stats = client.get("/api/v1/faq/stats", headers=admin_headers).json()

    assert stats["hits"][0]["entry_id"] == "S3"
    assert (stats["answered"], stats["unanswered"], stats["unanswered_rate"]) == (1, 1, 0.5)
    assert stats["top_unanswered"][0]["questions"] == [{"text": "你们招不招花艺师", "count": 1}]
