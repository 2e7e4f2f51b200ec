"""FastAPI dependencies: the process runtime, a database session, admin authentication."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from app.runtime import Runtime

_bearer = HTTPBearer(auto_error=False)


def runtime_of(request: Request) -> Runtime:
    """The runtime, read directly: the callback endpoints use this instead of `RuntimeDep`,
    because resolving dependencies was a measurable share of a callback's cost."""
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_runtime(request: Request) -> Runtime:
    # async although it does not await: FastAPI runs a plain `def` dependency in its thread
    # pool, a round trip through another thread (and the GIL) on every request.
    return runtime_of(request)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    """A session in one transaction, committed when the request handler returns normally."""
    with runtime.deps.session_factory() as session, session.begin():
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


async def require_admin(
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    token = runtime.settings.admin_token
    unauthorized = HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail="missing or wrong bearer token",
        headers={"WWW-Authenticate": "Bearer"},
    )
    if token is None or credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthorized
    if not hmac.compare_digest(
        credentials.credentials.encode(), token.get_secret_value().encode()
    ):
        raise unauthorized
