"""Role and scope checks as FastAPI dependencies: every endpoint names who may call it.

An endpoint declares its roles with :func:`api_user` (bearer token) or :func:`page_user`
(session cookie); the scope (which recipient body, which person) then comes from the
authenticated user, never from the request, so a recipient can only ever ask about its
own batches and a subject only about themselves.
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
from accord.web.auth import SESSION_COOKIE, SessionSigner


@dataclass(frozen=True)
class AppContext:
    """What every handler needs: the database and the session signer."""

    url: str
    signer: SessionSigner
    templates: Jinja2Templates


def context(request: Request) -> AppContext:
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


def api_user(*roles: str) -> Callable[..., Principal]:
    """A dependency admitting a live API token of a user in one of ``roles`` (401/403)."""
    for r in roles:
        if r not in identity.ROLES:
            raise ValueError(f"unknown role {r}")

    def dependency(
        ctx: Ctx,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(
                401,
                "this API needs an API token: Authorization: Bearer <token>",
                headers={"WWW-Authenticate": "Bearer"},
            )
        with db.connect(ctx.url) as conn:
            principal = identity.principal_for_token(conn, credentials.credentials)
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

    dependency.roles = roles  # type: ignore[attr-defined]
    return dependency


def session_principal(request: Request, ctx: AppContext) -> Principal | None:
    """The user of a valid session cookie, or None."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    data = ctx.signer.loads(cookie)
    if data is None:
        return None
    with db.connect(ctx.url) as conn:
        principal = identity.principal_for_user(conn, data.username)
    if principal is None or principal.fingerprint != data.fingerprint:
        return None
    return principal


def _next_of(request: Request) -> str:
    path = request.url.path
    if request.method == "GET" and request.url.query:
        path += "?" + request.url.query
    return quote(path, safe="/?=&")


def page_user(*roles: str) -> Callable[..., Principal]:
    """A dependency admitting a signed-in user in one of ``roles`` (login page / 403 page)."""

    def dependency(request: Request, ctx: Ctx) -> Principal:
        principal = session_principal(request, ctx)
        if principal is None:
            raise LoginRequired(_next_of(request))
        if principal.role not in roles:
            raise PageForbidden(
                principal, f"This page is for {_roles_text(roles)} users; you are {principal.role}."
            )
        return principal

    dependency.roles = roles  # type: ignore[attr-defined]
    return dependency


def page_form_user(*roles: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """:func:`page_user` for a form post: also checks the form's CSRF token."""
    check = page_user(*roles)

    async def dependency(request: Request, ctx: Ctx) -> Principal:
        principal = check(request, ctx)
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
    if url.startswith("sqlite"):
        with _SQLITE_WRITES, db.connect(url) as conn:
            yield conn
    else:
        with db.connect(url) as conn:
            yield conn
