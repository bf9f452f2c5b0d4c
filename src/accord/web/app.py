"""The web application: one FastAPI app serving the screens and the JSON API.

Handlers are thin, as the command line's are: they check role and scope (``deps``),
call the same services the CLI calls, and render.  Bad input is always a 4xx: request
documents are validated by their schemas, records by `accord.formats`, and the errors
a user can cause (:class:`accord.errors.AccordError`) become 4xx, never 500: an invalid
value 422 naming its field, something missing 404, a conflict 409, anything else 400.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

import jinja2
from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accord import __version__
from accord.config import Settings
from accord.errors import AccordError, DatabaseUnavailable, LedgerKeyUnavailable
from accord.web import oidc, operations, pages, words
from accord.web.api import router as api_router
from accord.web.api.common import http_error as api_error
from accord.web.api.common import operators_problem, status_of
from accord.web.auth import SessionSigner
from accord.web.deps import AppContext, LoginRequired, PageForbidden, session_principal

HERE = Path(__file__).parent
SECRET_ENV = "ACCORD_WEB_SECRET"
DOCS_URL = "/api/docs"
log = logging.getLogger("accord.web")

DESCRIPTION = """
Governed sharing of records about people between public bodies.

**Recipients** fetch their batches (each disclosure's id and the agreed fields only)
and recalls, acknowledge them and report what they did.  **The source body** submits
events.  Every call needs an API token (`accord users token NAME`) as
`Authorization: Bearer <token>`; a token is bound to its user's role and scope, and
every read of personal data is written to the audit log.

Errors: 401 no valid token; 403 role or scope refused; 404 not found; 409 conflicts
with the current state; 422 bad input, naming the row and column (rows from 1).
"""

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        b"img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
]


class SecurityHeaders:
    """Adds the security headers to every response, and refuses an address that holds a
    control character before any handler sees it (plain ASGI: no per-request overhead)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                # Pages and API answers carry personal data: no browser or proxy keeps
                # them.  Only the stylesheet and scripts may be cached.
                if not scope["path"].startswith("/static/") and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        if _has_control(scope):
            refusal = JSONResponse(
                {"detail": "the address holds a control character (such as NUL)"}, status_code=400
            )
            await refusal(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _has_control(scope: Scope) -> bool:
    query = unquote_to_bytes(scope.get("query_string", b"")).decode("latin-1")
    return bool(_CONTROL.search(scope["path"]) or _CONTROL.search(query))


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def session_secret(secret: str | None) -> str:
    """The secret that signs sessions: given, else ``ACCORD_WEB_SECRET``, else a fresh one."""
    if secret:
        return secret
    env = os.environ.get(SECRET_ENV)
    if env:
        return env
    log.warning(
        "%s is not set: sessions are signed with a key made now and end when the server stops",
        SECRET_ENV,
    )
    return secrets.token_urlsafe(32)


def create_app(
    database_url: str, secret: str | None = None, config: Settings | None = None
) -> FastAPI:
    """The whole web application over the governance database at ``database_url``;
    single sign-on and the log format come from ``config`` (default: the environment)."""
    config = config or operations.load_settings()
    app = FastAPI(
        title="Accord",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,  # served below from packaged Swagger UI files, not a CDN
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    # Templates ship with the package and never change while it runs: no mtime check per render.
    templates = Jinja2Templates(
        env=jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=jinja2.select_autoescape(["html"]),
            auto_reload=False,
        )
    )
    templates.env.globals.update(words.TEMPLATE_GLOBALS)
    signing_secret = session_secret(secret)
    app.state.accord = AppContext(database_url, SessionSigner(signing_secret), templates)
    app.state.oidc = oidc.from_settings(config)
    metrics = operations.RequestMetrics()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(api_router)
    app.include_router(pages.router)
    app.include_router(oidc.router)
    # Single sign-on keeps its state, nonce and PKCE verifier in a signed cookie sent
    # only to /login/oidc..., for ten minutes; no other request carries it.
    app.add_middleware(
        SessionMiddleware,
        secret_key=hashlib.sha256(b"accord-oidc\x00" + signing_secret.encode()).hexdigest(),
        session_cookie=oidc.STATE_COOKIE,
        max_age=oidc.STATE_SECONDS,
        path=oidc.STATE_PATH,
        same_site="lax",
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(
        operations.Operations, metrics=metrics, log_requests=config.log_format == "json"
    )

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={exc.next_path}", status_code=303)

    @app.exception_handler(PageForbidden)
    async def page_forbidden(request: Request, exc: PageForbidden) -> Response:
        return pages.error_page(request, 403, exc.message, exc.principal)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _is_api(request) or request.url.path.startswith("/static/"):
            return await http_exception_handler(request, exc)
        return pages.error_page(
            request, exc.status_code, str(exc.detail), _maybe_principal(request)
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        if _is_api(request):
            return await request_validation_exception_handler(request, exc)
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e.get('loc', ())[1:])}: {e.get('msg')}"
            for e in exc.errors()
        )
        return pages.error_page(request, 422, f"The form was not filled in right: {problems}")

    @app.exception_handler(DatabaseUnavailable)
    @app.exception_handler(LedgerKeyUnavailable)
    async def operators_problem_page(request: Request, exc: AccordError) -> Response:
        # Something for the operators to put right (no database, no ledger key): they get
        # the detail in the log; whoever asked gets a plain message and a reference.
        message = operators_problem(exc)
        if _is_api(request):
            return JSONResponse({"detail": message}, status_code=503)
        return pages.error_page(request, 503, message)

    @app.exception_handler(AccordError)
    async def accord_error(request: Request, exc: AccordError) -> Response:
        # A use case's error, in its own words: its kind gives the status (invalid input
        # 422, not found 404, conflict 409, else 400), and the API names an invalid field.
        if _is_api(request):
            answer = api_error(exc)
            return JSONResponse({"detail": answer.detail}, status_code=answer.status_code)
        return pages.error_page(request, status_of(exc), str(exc), _maybe_principal(request))

    async def api_docs(request: Request) -> Response:
        """Swagger UI over the OpenAPI document, from the files Accord ships (static/
        swagger-ui), started by a script file: it works offline and under the CSP."""
        return templates.TemplateResponse(
            request, "api_docs.html", {"openapi_url": app.openapi_url}
        )

    app.add_route(DOCS_URL, api_docs, include_in_schema=False)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, Any]:
        """Liveness: the process answers.  Readiness is /readyz."""
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> Response:
        """Readiness: the database answers and the ledger key signs (else 503, and why)."""
        ready, body = operations.readiness(database_url)
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics", include_in_schema=False)
    def metrics_text() -> Response:
        """Prometheus text format (docs/deploy.md#operations)."""
        return Response(operations.scrape(metrics, database_url), media_type=CONTENT_TYPE_LATEST)

    return app


def _maybe_principal(request: Request) -> Any:
    try:
        return session_principal(request, request.app.state.accord)
    except AccordError:
        return None


def app_from_environment() -> FastAPI:
    """The app for `accord serve` workers: database and secret from the environment."""
    config = operations.load_settings()
    return create_app(config.database_url, config=config)
