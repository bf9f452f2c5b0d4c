"""Signing staff in through the department's identity provider (OpenID Connect), with Authlib.

``GET /login/oidc`` sends the browser to the provider: the authorization code flow with
PKCE (S256), a fresh ``state`` and ``nonce`` kept in a short-lived signed cookie scoped
to ``/login/oidc`` (Starlette's session middleware, with the app's secret).
``GET /login/oidc/callback`` checks the state, exchanges the code (with the PKCE
verifier and the client secret), and checks the ID token: its signature against the
provider's published keys (JWKS), issuer, audience, expiry and nonce (Authlib's
``CodeIDToken``).  Then `accord.sso.sign_in` decides what the user may do from their
groups, and the user gets the same session cookie a local sign-in gives.

The provider's discovery document must name the issuer configured
(``ACCORD_OIDC_ISSUER``), as OpenID Connect Discovery 1.0 section 4.3 requires.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated, Any

import httpx2
from authlib.integrations.starlette_client import OAuth, OAuthError  # type: ignore[import-untyped]
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from joserfc.errors import JoseError
from starlette.concurrency import run_in_threadpool

from accord import sso
from accord.config import Settings
from accord.errors import AccordError
from accord.web import pages
from accord.web.deps import Ctx

log = logging.getLogger("accord.web")

router = APIRouter(include_in_schema=False)

STATE_COOKIE = "accord_oidc"
STATE_PATH = "/login/oidc"
STATE_SECONDS = 600


@dataclass(frozen=True)
class OIDC:
    """The provider Accord signs staff in through, as the settings name it."""

    issuer: str
    group_claim: str
    roles: dict[str, sso.Role]
    redirect_url: str | None
    client: Any  # Authlib's StarletteOAuth2App


def discovery_url(s: Settings) -> str:
    assert s.oidc_issuer
    return s.oidc_discovery_url or (s.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration")


def from_settings(s: Settings) -> OIDC | None:
    """The provider of the settings, or None when single sign-on is not configured.
    The settings are taken as checked (`accord.web.operations.check_settings`)."""
    if not s.oidc_issuer:
        return None
    oauth = OAuth()
    client = oauth.register(
        "accord",
        client_id=s.oidc_client_id,
        client_secret=s.oidc_client_secret,
        server_metadata_url=discovery_url(s),
        client_kwargs={"scope": s.oidc_scopes, "code_challenge_method": "S256"},
    )
    return OIDC(
        s.oidc_issuer, s.oidc_group_claim, sso.parse_roles(s.oidc_roles), s.oidc_redirect_url,
        client,
    )  # fmt: skip


def _provider(request: Request) -> OIDC:
    provider: OIDC | None = request.app.state.oidc
    if provider is None:
        raise AccordError("single sign-on is not set up here: sign in with a username")
    return provider


UNREACHABLE = (
    "Signing in through your organisation is not working at the moment. Try again in a "
    "few minutes, or ask the Accord operators."
)

INCOMPLETE = "Signing in through your organisation did not complete. Start again."


async def _checked_metadata(provider: OIDC) -> None:
    metadata = await provider.client.load_server_metadata()
    if metadata.get("issuer") != provider.issuer:
        provider.client.server_metadata.clear()  # fetch it again next time
        raise RuntimeError(
            f"the provider's discovery document names issuer {metadata.get('issuer')!r}, "
            f"not ACCORD_OIDC_ISSUER {provider.issuer!r}"
        )


@router.get("/login/oidc")
async def start(
    request: Request, next: Annotated[str | None, Query(max_length=2000)] = None
) -> Response:
    """Send the browser to the identity provider."""
    provider = _provider(request)
    try:
        await _checked_metadata(provider)
        redirect_uri = provider.redirect_url or str(request.url_for("oidc_callback"))
        response: Response = await provider.client.authorize_redirect(request, redirect_uri)
    except (httpx2.HTTPError, JoseError, RuntimeError, ValueError) as exc:
        log.error("single sign-on: the identity provider cannot be used: %s", exc)
        return pages.error_page(request, 503, UNREACHABLE)
    request.session["next"] = next or ""
    return response


@router.get("/login/oidc/callback", name="oidc_callback")
async def callback(request: Request, ctx: Ctx) -> Response:
    """The provider sends the browser back here with a code: check everything, sign in."""
    provider = _provider(request)
    try:
        await _checked_metadata(provider)
        token = await provider.client.authorize_access_token(request)
    except OAuthError as exc:
        log.warning("single sign-on refused: %s %s", exc.error, exc.description)
        return pages.error_page(request, 400, INCOMPLETE)
    except (httpx2.HTTPError, JoseError, RuntimeError, ValueError) as exc:
        # A bad signature, audience, issuer, expiry or nonce in the ID token (joserfc's
        # JoseError): refused like a broken exchange.
        log.error("single sign-on: the sign-in could not be checked: %s", exc)
        return pages.error_page(request, 400, INCOMPLETE)
    claims = token.get("userinfo")
    if not claims:
        log.error("single sign-on: the provider sent no ID token (is 'openid' a scope?)")
        return pages.error_page(request, 503, UNREACHABLE)
    result = await run_in_threadpool(
        sso.sign_in, ctx.url, provider.issuer, dict(claims), provider.group_claim, provider.roles
    )
    next_path = request.session.pop("next", "")
    if result.principal is None:
        return pages.error_page(request, 403, result.refusal or sso.NO_ACCESS)
    return pages.signed_in(request, ctx, result.principal, next_path)
