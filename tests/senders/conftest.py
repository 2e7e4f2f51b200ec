"""Fixtures for the sender tests: an httpx client per test.

`fake_http_server` comes from the `tests.fakes` plugin and `clock` (a FixedClock) from
tests/conftest.py.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import httpx
import pytest


@pytest.fixture(scope="session")
def tls_context() -> ssl.SSLContext:
    """Loaded once: building the default context per client costs ~30 ms of certificate parsing."""
    return ssl.create_default_context()


@pytest.fixture
def http_client(tls_context: ssl.SSLContext) -> Iterator[httpx.Client]:
    """A fresh client per test (no pooled connections leak between fake servers); senders pass
    their own per-request timeouts."""
    with httpx.Client(verify=tls_context) as client:
        yield client
