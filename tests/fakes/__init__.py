"""Test doubles shared across the suite, and their pytest fixtures.

Register the fixtures for the whole suite with `pytest_plugins = ["tests.fakes"]` in
tests/conftest.py (or import `fake_http_server` into a conftest).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .http_server import GETTOKEN_PATH, FakeHTTPServer, RecordedRequest, Reply

__all__ = ["GETTOKEN_PATH", "FakeHTTPServer", "RecordedRequest", "Reply", "fake_http_server"]


@pytest.fixture
def fake_http_server() -> Iterator[FakeHTTPServer]:
    """A started `FakeHTTPServer` (system clock for arrival times), stopped after the test."""
    with FakeHTTPServer() as server:
        yield server
