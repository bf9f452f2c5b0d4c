"""Proving who is asking: a signed session cookie for screens, bearer tokens for the API.

The session cookie holds only the username, a fingerprint of the password hash and when
it was issued, signed with the application's secret and limited in age; every request
still loads the user, so a disabled user, a changed password or signing out (which
records when, `identity.end_sessions`) ends every session started before at once.  Forms
posted with the cookie also carry a token derived from it (CSRF), and the cookie is
``SameSite=Lax`` and ``HttpOnly``.  The API takes bearer tokens only, never the cookie,
so another site can never make a browser call the API with someone's session.
"""

from __future__ import annotations

import datetime as dt
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
    issued_at: dt.datetime


class SessionSigner:
    """Signs and checks session cookies and the CSRF tokens bound to them."""

    def __init__(self, secret: str, max_age_s: int = SESSION_HOURS * 3600) -> None:
        if len(secret) < 32:
            raise ValueError("the session secret must be at least 32 characters")
        self._serializer = URLSafeTimedSerializer(secret, salt="accord-session")
        self._csrf_key = hashlib.sha256(b"accord-csrf\x00" + secret.encode()).digest()
        self.max_age_s = max_age_s

    def dumps(self, username: str, fingerprint: str, issued_at: dt.datetime | None = None) -> str:
        # A random nonce makes each login's cookie (and so its CSRF token) distinct; the
        # time it was issued, in microseconds, tells it from sessions ended since.
        issued = issued_at or dt.datetime.now(dt.UTC)
        micros = int(issued.timestamp()) * 1_000_000 + issued.microsecond
        value = self._serializer.dumps([username, fingerprint, secrets.token_hex(8), micros])
        return str(value)

    def loads(self, cookie: str) -> SessionData | None:
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age_s)
        except BadSignature:
            return None
        if (
            not isinstance(data, list)
            or len(data) != 4
            or not all(isinstance(x, str) for x in data[:3])
            or type(data[3]) is not int
        ):
            return None
        issued = dt.datetime.fromtimestamp(data[3] // 1_000_000, dt.UTC)
        return SessionData(data[0], data[1], issued.replace(microsecond=data[3] % 1_000_000))

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
