"""Proving who is asking: a signed session cookie for screens, bearer tokens for the API.

The session cookie holds only the username and a fingerprint of the password hash,
signed with the application's secret and limited in age; every request still loads
the user, so a disabled user or a changed password ends every session at once.  Forms
posted with the cookie also carry a token derived from it (CSRF), and the cookie is
``SameSite=Lax`` and ``HttpOnly``.  The API takes bearer tokens only, never the cookie,
so another site can never make a browser call the API with someone's session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_COOKIE = "accord_session"
SESSION_HOURS = 8


@dataclass(frozen=True)
class SessionData:
    username: str
    fingerprint: str


class SessionSigner:
    """Signs and checks session cookies and the CSRF tokens bound to them."""

    def __init__(self, secret: str, max_age_s: int = SESSION_HOURS * 3600) -> None:
        if len(secret) < 32:
            raise ValueError("the session secret must be at least 32 characters")
        self._serializer = URLSafeTimedSerializer(secret, salt="accord-session")
        self._csrf_key = hashlib.sha256(b"accord-csrf\x00" + secret.encode()).digest()
        self.max_age_s = max_age_s

    def dumps(self, username: str, fingerprint: str) -> str:
        # A random nonce makes each login's cookie (and so its CSRF token) distinct.
        value = self._serializer.dumps([username, fingerprint, secrets.token_hex(8)])
        return str(value)

    def loads(self, cookie: str) -> SessionData | None:
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age_s)
        except BadSignature:
            return None
        if (
            not isinstance(data, list)
            or len(data) != 3
            or not all(isinstance(x, str) for x in data)
        ):
            return None
        return SessionData(data[0], data[1])

    def csrf_token(self, cookie: str) -> str:
        return hmac.new(self._csrf_key, cookie.encode(), hashlib.sha256).hexdigest()[:32]

    def csrf_ok(self, cookie: str, token: str) -> bool:
        return hmac.compare_digest(self.csrf_token(cookie), token)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
