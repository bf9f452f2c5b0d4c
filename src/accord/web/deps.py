"""Role and scope checks as FastAPI dependencies: every endpoint names who may call it.

An endpoint declares its roles with :func:`api_user` (bearer token) or :func:`page_user`
(session cookie); the scope (which recipient body, which person) then comes from the
authenticated user, never from the request, so a recipient can only ever ask about its
own batches and a subject only about themselves.

The two hot paths (a recipient's batch fetch, a reviewer's queue page) declare theirs
with :func:`api_token` and :func:`page_session` instead: the same checks, made on the
handler's own connection, in the transaction that reads the page and audits the read.
Every dependency here is ``async`` and makes at most one short indexed lookup on the
event loop, which costs less than the hop to the thread pool a plain ``def`` takes.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.templating import Jinja2Templates
from sqlalchemy import Connection

from accord import identity
from accord.identity import Principal
from accord.store import db
from accord.store.dialect import dialect_of
from accord.vocab import ROLES
from accord.web.auth import SESSION_COOKIE, SessionData, SessionSigner


@dataclass(frozen=True)
class AppContext:
    """What every handler needs: the database and the session signer."""

    url: str
    signer: SessionSigner
    templates: Jinja2Templates


async def context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.accord
    return ctx


Ctx = Annotated[AppContext, Depends(context)]

_bearer = HTTPBearer(auto_error=False, description="An API token from `accord users token`.")


class LoginRequired(Exception):
    """A screen was asked for without a valid session: send the browser to the login page."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class PageForbidden(Exception):
    """A signed-in user asked for a screen their role does not allow."""

    def __init__(self, principal: Principal, message: str) -> None:
        self.principal = principal
        self.message = message


def _roles_text(roles: tuple[str, ...]) -> str:
    return " or ".join(roles)


def _known_roles(roles: tuple[str, ...]) -> None:
    for r in roles:
        if r not in ROLES:
            raise ValueError(f"unknown role {r}")


def _bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            401,
            "this API needs an API token: Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return credentials.credentials


def _token_principal(conn: Connection, token: str, roles: tuple[str, ...]) -> Principal:
    """The user of a live token in one of ``roles``, else 401 or 403.

    One indexed lookup by the token's SHA-256: no slow hash on the request path.
    """
    principal = identity.principal_for_token(conn, token)
    if principal is None:
        raise HTTPException(
            401,
            "the API token is not valid (unknown, revoked or expired)",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    if principal.role not in roles:
        raise HTTPException(
            403, f"role {principal.role} may not do this: it needs {_roles_text(roles)}"
        )
    return principal


Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def api_user(*roles: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency admitting a live API token of a user in one of ``roles`` (401/403)."""
    _known_roles(roles)

    async def dependency(ctx: Ctx, credentials: Bearer) -> Principal:
        token = _bearer_token(credentials)
        with db.connect(ctx.url) as conn:
            return _token_principal(conn, token, roles)

    dependency.roles = roles  # type: ignore[attr-defined]
    return dependency


@dataclass(frozen=True)
class TokenCheck:
    """A bearer token still to be checked, in the handler's own transaction.

    For the hot paths (a recipient's batch fetch): checking the token on the same
    connection as the read saves a connection and a commit per request (on PostgreSQL,
    two round trips).  The handler cannot learn who is calling, or their scope,
    without :meth:`principal`, which refuses exactly as :func:`api_user` does.
    """

    token: str
    roles: tuple[str, ...]

    def principal(self, conn: Connection) -> Principal:
        return _token_principal(conn, self.token, self.roles)


def api_token(*roles: str) -> Callable[..., Coroutine[Any, Any, TokenCheck]]:
    """:func:`api_user`, with the database check left to the handler's transaction."""
    _known_roles(roles)

    async def dependency(credentials: Bearer) -> TokenCheck:
        return TokenCheck(_bearer_token(credentials), roles)

    dependency.roles = roles  # type: ignore[attr-defined]
    return dependency


def _session_user(conn: Connection, data: SessionData) -> Principal | None:
    principal = identity.principal_for_user(conn, data.username)
    if principal is None or principal.fingerprint != data.fingerprint:
        return None
    ended = principal.sessions_ended_at
    if ended is not None and data.issued_at <= ended:
        return None  # signed out since this session began
    return principal


def _session_data(request: Request, ctx: AppContext) -> SessionData | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    return ctx.signer.loads(cookie) if cookie else None


def session_principal(request: Request, ctx: AppContext) -> Principal | None:
    """The user of a valid session cookie, or None."""
    data = _session_data(request, ctx)
    if data is None:
        return None
    with db.connect(ctx.url) as conn:
        return _session_user(conn, data)


def _next_of(request: Request) -> str:
    path = request.url.path
    if request.method == "GET" and request.url.query:
        path += "?" + request.url.query
    return quote(path, safe="/?=&")


def _page_principal(
    principal: Principal | None, roles: tuple[str, ...], request: Request
) -> Principal:
    if principal is None:
        raise LoginRequired(_next_of(request))
    if principal.role not in roles:
        raise PageForbidden(
            principal, f"This page is for {_roles_text(roles)} users; you are {principal.role}."
        )
    return principal


def page_user(*roles: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency admitting a signed-in user in one of ``roles`` (login page / 403 page)."""

    async def dependency(request: Request, ctx: Ctx) -> Principal:
        return _page_principal(session_principal(request, ctx), roles, request)

    dependency.roles = roles  # type: ignore[attr-defined]
    return dependency


@dataclass(frozen=True)
class SessionCheck:
    """A validly signed session still to be checked against its user, in the handler's
    own transaction: :class:`TokenCheck` for the screens' hot path (the review queue)."""

    data: SessionData
    roles: tuple[str, ...]
    request: Request

    def principal(self, conn: Connection) -> Principal:
        return _page_principal(_session_user(conn, self.data), self.roles, self.request)


def page_session(*roles: str) -> Callable[..., Coroutine[Any, Any, SessionCheck]]:
    """:func:`page_user`, with the database check left to the handler's transaction."""
    _known_roles(roles)

    async def dependency(request: Request, ctx: Ctx) -> SessionCheck:
        data = _session_data(request, ctx)
        if data is None:
            raise LoginRequired(_next_of(request))
        return SessionCheck(data, roles, request)

    dependency.roles = roles  # type: ignore[attr-defined]
    return dependency


def page_form_user(*roles: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """:func:`page_user` for a form post: also checks the form's CSRF token."""
    check = page_user(*roles)

    async def dependency(request: Request, ctx: Ctx) -> Principal:
        principal = await check(request, ctx)
        form = await request.form()
        token = form.get("csrf")
        cookie = request.cookies.get(SESSION_COOKIE, "")
        if not isinstance(token, str) or not ctx.signer.csrf_ok(cookie, token):
            raise HTTPException(403, "the form has expired or did not come from Accord: reload it")
        return principal

    dependency.roles = roles  # type: ignore[attr-defined]
    return dependency


_SQLITE_WRITES = threading.Lock()


@contextlib.contextmanager
def transaction(url: str) -> Iterator[Connection]:
    """:func:`accord.store.db.connect` for a handler that writes (every audited read does).

    SQLite has one writer at a time and its busy handler backs off by sleeping (up to
    100 ms a try), so concurrent requests in one process would queue on sleeps; they
    queue on a lock here instead and are served in turn.  PostgreSQL needs no lock.
    """
    if dialect_of(db.engine_for(url)).single_writer:
        with _SQLITE_WRITES, db.connect(url) as conn:
            yield conn
    else:
        with db.connect(url) as conn:
            yield conn
