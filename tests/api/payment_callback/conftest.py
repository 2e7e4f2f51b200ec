"""Fixtures shared by the payment-callback tests: the secret set, and one pending order."""

from __future__ import annotations

import pytest

from app.clock import FixedClock
from app.runtime import Runtime
from app.settings import Settings
from tests.api.payment_callback.helpers import Factory, Order, pending_order, with_payment_secret


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return with_payment_secret(settings)


@pytest.fixture
def factory(runtime: Runtime) -> Factory:
    return runtime.deps.session_factory


@pytest.fixture
def order(factory: Factory, clock: FixedClock) -> Order:
    return pending_order(factory, clock)
