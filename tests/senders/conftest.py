"""Fixtures for the sender tests: a real local HTTP server, an httpx client and a fixed clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from app.clock import FixedClock
from tests.fakes import fake_http_server  # noqa: F401  (fixture; redundant once tests.fakes is a plugin)

NOW = datetime(2025, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def http_client() -> Iterator[httpx.Client]:
    """A plain client; senders pass their own per-request timeouts."""
    with httpx.Client() as client:
        yield client
