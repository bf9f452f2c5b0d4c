"""Who may use Accord, in which role, and how they prove it.

Passwords are stored as scrypt hashes (memory-hard, in the standard library) and API
tokens as the SHA-256 of a random 32-byte secret: a token is shown once, when it is
issued, and a stolen database never yields a usable credential.  A user's role binds
them to what they may see: a recipient to one recipient body, a data subject to their
own person id.  Every change to who may do what is written to the audit log.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, delete, insert, or_, select, update

from accord import auditlog
from accord.errors import AccordError, InvalidInput
from accord.store import db
from accord.store.dialect import dialect_of
from accord.store.models import ApiToken, LoginFailure, User, as_utc, utcnow
from accord.vocab import ROLES

ROLE_WORDS = {
    "caseworker": "caseworker (reads people's records, submits events)",
    "reviewer": "reviewer (decides review items; two reviewers for adverse outcomes)",
    "recipient": "recipient body (fetches its own batches and recalls, reports actions)",
    "auditor": "auditor (oversight counts and reports)",
    "admin": "administrator (pauses and resumes agreements)",
    "subject": "data subject (sees their own report, opens a dispute)",
}

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
TOKEN_PREFIX = "acc_"

# scrypt cost: 16 MiB and ~50 ms per check on this hardware; tuned to slow guessing.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
MIN_PASSWORD = 10


@dataclass(frozen=True)
class Principal:
    """An authenticated user as the web layer sees them."""

    username: str
    display_name: str
    role: str
    recipient: str | None
    person_id: str | None
    # Changes when the password does, so a signed session ends with a password change.
    fingerprint: str
    # When the user last signed out: sessions started until then are over.
    sessions_ended_at: dt.datetime | None = None


@dataclass(frozen=True)
class UserInfo:
    username: str
    display_name: str
    role: str
    recipient: str | None
    person_id: str | None
    has_password: bool
    tokens: int
    disabled: bool
    created_at: dt.datetime
    failed_sign_ins: int = 0  # consecutive, since the last success
    locked_until: dt.datetime | None = None  # set while a lock is in force


# --- hashing ---------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` with a fresh 16-byte salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    """Constant-time check; a missing or malformed hash never matches."""
    if not stored:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = _unb64(digest)
        got = hashlib.scrypt(
            password.encode(),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=64 * 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


# A hash to check against when the user does not exist, so that the time a failed login
# takes does not reveal which usernames exist.
_DECOY = hash_password(secrets.token_urlsafe(16))


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh API token and the digest that is stored in its place."""
    token = TOKEN_PREFIX + _b64(secrets.token_bytes(32))
    return token, token_digest(token)


def fingerprint(password_hash: str | None) -> str:
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


# --- users -----------------------------------------------------------------------------


def _check_binding(role: str, recipient: str | None, person_id: str | None) -> None:
    if role not in ROLES:
        raise AccordError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    if role == "recipient" and not recipient:
        raise InvalidInput(
            "recipient", "a recipient user must be bound to one recipient body: {field}"
        )
    if role != "recipient" and recipient:
        raise InvalidInput("recipient", f"is only for role recipient, not {role}")
    if role == "subject" and not person_id:
        raise InvalidInput("person", "a subject user must be bound to their own person id: {field}")
    if role != "subject" and person_id:
        raise InvalidInput("person", f"is only for role subject, not {role}")


def add_user(
    url: str,
    username: str,
    role: str,
    *,
    display_name: str | None = None,
    recipient: str | None = None,
    person_id: str | None = None,
    password: str | None = None,
    actor: str = "cli",
) -> UserInfo:
    """Create a user bound to their role's scope; refuses duplicates and weak passwords."""
    if not USERNAME.fullmatch(username):
        raise AccordError(
            f"username {username!r}: use 1-64 letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit"
        )
    _check_binding(role, recipient, person_id)
    if password is not None and len(password) < MIN_PASSWORD:
        raise AccordError(f"password too short: use at least {MIN_PASSWORD} characters")
    password_hash = hash_password(password) if password is not None else None
    created = utcnow()
    with db.connect(url) as conn:
        exists = conn.scalar(select(User.username).where(User.username == username))
        if exists is not None:
            raise AccordError(f"user {username!r} already exists")
        conn.execute(
            insert(User).values(
                username=username,
                display_name=display_name or username,
                role=role,
                recipient=recipient,
                person_id=person_id,
                password_hash=password_hash,
                created_at=created,
                disabled=False,
            )
        )
        auditlog.log(
            conn,
            actor,
            "user_added",
            person_id,
            username=username,
            role=role,
            recipient=recipient,
        )
    return UserInfo(
        username,
        display_name or username,
        role,
        recipient,
        person_id,
        password_hash is not None,
        0,
        False,
        created,
    )


def set_password(url: str, username: str, password: str, actor: str = "cli") -> None:
    if len(password) < MIN_PASSWORD:
        raise AccordError(f"password too short: use at least {MIN_PASSWORD} characters")
    with db.connect(url) as conn:
        done = conn.execute(
            update(User)
            .where(User.username == username)
            .values(password_hash=hash_password(password))
        )
        if not done.rowcount:
            raise AccordError(f"no user {username!r}")
        auditlog.log(conn, actor, "password_set", username=username)


def disable_user(url: str, username: str, actor: str = "cli") -> None:
    """Disable a user: their sessions and tokens stop working at once (kept for the audit)."""
    with db.connect(url) as conn:
        done = conn.execute(update(User).where(User.username == username).values(disabled=True))
        if not done.rowcount:
            raise AccordError(f"no user {username!r}")
        auditlog.log(conn, actor, "user_disabled", username=username)


def issue_token(
    url: str,
    username: str,
    label: str,
    *,
    expires_days: int | None = None,
    actor: str = "cli",
) -> str:
    """Issue an API token for a user; the token itself is returned once and never stored."""
    label = label.strip()
    if not label:
        raise InvalidInput("label", "a token needs a label saying what it is for: {field}")
    if expires_days is not None and expires_days < 1:
        raise InvalidInput("expires_days", "must be at least 1")
    token, digest = new_token()
    now = utcnow()
    with db.connect(url) as conn:
        user = conn.execute(
            select(User.username, User.disabled).where(User.username == username)
        ).first()
        if user is None:
            raise AccordError(f"no user {username!r}")
        if user.disabled:
            raise AccordError(f"user {username!r} is disabled")
        conn.execute(
            insert(ApiToken).values(
                token_sha256=digest,
                username=username,
                label=label,
                created_at=now,
                expires_at=now + dt.timedelta(days=expires_days) if expires_days else None,
            )
        )
        auditlog.log(conn, actor, "token_issued", username=username, label=label)
    return token


def revoke_tokens(url: str, username: str, label: str | None = None, actor: str = "cli") -> int:
    """Revoke a user's tokens (those with ``label``, or all); returns how many."""
    query = update(ApiToken).where(ApiToken.username == username, ApiToken.revoked_at.is_(None))
    if label is not None:
        query = query.where(ApiToken.label == label)
    with db.connect(url) as conn:
        n = int(conn.execute(query.values(revoked_at=utcnow())).rowcount or 0)
        auditlog.log(conn, actor, "tokens_revoked", username=username, label=label, count=n)
    return n


def list_users(url: str, now: dt.datetime | None = None) -> list[UserInfo]:
    """Every user, with their live tokens, failed sign-ins and any lock in force."""
    now = now or utcnow()
    with db.connect(url) as conn:
        users = conn.execute(select(User.__table__).order_by(User.username)).all()
        counts: dict[str, int] = {}
        for name in conn.scalars(select(ApiToken.username).where(ApiToken.revoked_at.is_(None))):
            counts[name] = counts.get(name, 0) + 1
        failures = {
            f.username: f
            for f in conn.execute(
                select(LoginFailure.__table__).where(
                    LoginFailure.username.in_(select(User.username))
                )
            )
        }

    def lock(name: str) -> dt.datetime | None:
        found = failures.get(name)
        until = as_utc(found.locked_until) if found is not None else None
        return until if until is not None and until > now else None

    return [
        UserInfo(
            u.username,
            u.display_name,
            u.role,
            u.recipient,
            u.person_id,
            u.password_hash is not None,
            counts.get(u.username, 0),
            bool(u.disabled),
            u.created_at,
            failures[u.username].failures if u.username in failures else 0,
            lock(u.username),
        )
        for u in users
    ]


# --- authentication --------------------------------------------------------------------

_PRINCIPAL_COLUMNS = (
    User.username,
    User.display_name,
    User.role,
    User.recipient,
    User.person_id,
    User.password_hash,
    User.sessions_ended_at,
)


def _principal(row: object) -> Principal:
    return Principal(
        row.username,  # type: ignore[attr-defined]
        row.display_name,  # type: ignore[attr-defined]
        row.role,  # type: ignore[attr-defined]
        row.recipient,  # type: ignore[attr-defined]
        row.person_id,  # type: ignore[attr-defined]
        fingerprint(row.password_hash),  # type: ignore[attr-defined]
        as_utc(row.sessions_ended_at),  # type: ignore[attr-defined]
    )


_BY_USERNAME = select(*_PRINCIPAL_COLUMNS).where(
    User.username == bindparam("username"), User.disabled.is_(False)
)
_BY_TOKEN = (
    select(*_PRINCIPAL_COLUMNS, ApiToken.expires_at)
    .join(ApiToken, ApiToken.username == User.username)
    .where(
        ApiToken.token_sha256 == bindparam("digest"),
        ApiToken.revoked_at.is_(None),
        User.disabled.is_(False),
    )
)


def principal_for_user(conn: Connection, username: str) -> Principal | None:
    """The enabled user ``username``, or None."""
    row = conn.execute(_BY_USERNAME, {"username": username}).first()
    return _principal(row) if row is not None else None


def principal_for_token(
    conn: Connection, token: str, now: dt.datetime | None = None
) -> Principal | None:
    """The user a live (unrevoked, unexpired) token belongs to, or None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        return None
    now = now or utcnow()
    row = conn.execute(_BY_TOKEN, {"digest": token_digest(token)}).first()
    if row is None:
        return None
    expires = as_utc(row.expires_at)
    if expires is not None and expires <= now:
        return None
    return _principal(row)


def user_of_token(url: str, token: str, roles: tuple[str, ...], doing: str) -> Principal:
    """The user a command-line token proves, if their role may do ``doing``; else one line.

    The command line's counterpart of the API's bearer check: a decision that counts
    towards four eyes is made by an authenticated user, never a typed name.
    """
    with db.connect(url) as conn:
        principal = principal_for_token(conn, token.strip())
    if principal is None:
        raise AccordError(
            "the user token is not valid (unknown, revoked or expired, or its user is "
            "disabled): ask for a new one with `accord users token NAME`"
        )
    if principal.role not in roles:
        raise AccordError(
            f"user {principal.username} is {principal.role}: {doing} needs {' or '.join(roles)}"
        )
    return principal


# Sign-in throttling (NIST SP 800-63B 5.2.2, OWASP's authentication guidance): a few
# failures are free, then each further consecutive failure locks the username for twice
# as long as the one before, up to LOCK_MAX.  A lock refuses every sign-in under that
# username until it ends, the right password too, without checking it; a success clears
# the count.  Any username tried is counted, known or not, so a lock reveals nothing.
FREE_FAILURES = 5
LOCK_FIRST = dt.timedelta(seconds=30)
LOCK_MAX = dt.timedelta(minutes=15)
FORGET_AFTER = dt.timedelta(days=1)  # a count with no failure for this long is dropped


@dataclass(frozen=True)
class SignIn:
    """What a sign-in attempt came to: the user, or how long the username is locked."""

    principal: Principal | None
    locked_for: dt.timedelta | None = None  # set when refused without checking


def lock_after(failures: int) -> dt.timedelta | None:
    """How long the ``failures``-th consecutive failure locks the username, if at all."""
    if failures <= FREE_FAILURES:
        return None
    doublings = min(failures - FREE_FAILURES - 1, 30)
    return min(LOCK_FIRST * (1 << doublings), LOCK_MAX)


def sign_in(url: str, username: str, password: str, now: dt.datetime | None = None) -> SignIn:
    """Check a password under the throttle: refused unchecked while the username is
    locked; otherwise the attempt is counted as a failure (and may lock the username)
    before the password is checked, and a success then clears the count."""
    now = now or utcnow()
    with db.connect(url) as conn:
        locked_for = _count_attempt(conn, username, now)
    if locked_for is not None:
        return SignIn(None, locked_for)
    principal = check_password(url, username, password)
    if principal is not None:
        with db.connect(url) as conn:
            conn.execute(delete(LoginFailure).where(LoginFailure.username == username))
    return SignIn(principal)


def _count_attempt(conn: Connection, username: str, now: dt.datetime) -> dt.timedelta | None:
    """Count one more attempt under ``username`` as a failure, with the lock it earns, before
    its password is checked; or, if the username is locked, how long for (uncounted).

    The count is read and written under a lock on it (the row, on PostgreSQL; the
    database's write lock, taken first, on SQLite), and the password is checked only
    after the count is committed: so attempts made at the same moment are counted one
    after another, and no more than ``FREE_FAILURES + 1`` passwords are checked before
    the lock, however many arrive together.
    """
    db.write_lock(conn)
    table = LoginFailure.__table__
    conn.execute(
        dialect_of(conn)
        .insert(table)
        .values(username=username, failures=0, last_failed_at=now)
        .on_conflict_do_nothing(index_elements=[table.c.username])
    )
    failures, until = conn.execute(
        select(LoginFailure.failures, LoginFailure.locked_until)
        .where(LoginFailure.username == username)
        .with_for_update()
    ).one()
    until = as_utc(until)
    if until is not None and until > now:
        return until - now
    failures += 1
    lock = lock_after(failures)
    conn.execute(
        update(LoginFailure)
        .where(LoginFailure.username == username)
        .values(
            failures=failures,
            last_failed_at=now,
            locked_until=now + lock if lock is not None else until,
        )
    )
    # Counts nobody has added to for a day go (an indexed range): the table stays the
    # size of one day's failures, however many usernames are sprayed.
    conn.execute(
        delete(LoginFailure).where(
            LoginFailure.last_failed_at < now - FORGET_AFTER,
            or_(LoginFailure.locked_until.is_(None), LoginFailure.locked_until <= now),
        )
    )
    return None


def end_sessions(url: str, username: str, at: dt.datetime | None = None) -> None:
    """Sign ``username`` out everywhere: every session started until now is over.

    A session is a signed cookie the server keeps nothing of, so signing out records the
    moment instead, and a session issued at or before it is refused (`web.deps`).
    """
    with db.connect(url) as conn:
        conn.execute(
            update(User).where(User.username == username).values(sessions_ended_at=at or utcnow())
        )
        auditlog.log(conn, username, "logout", username=username)


def unlock(url: str, username: str, actor: str) -> bool:
    """Clear a username's failed sign-ins and any lock; True if there were any."""
    with db.connect(url) as conn:
        gone = conn.execute(delete(LoginFailure).where(LoginFailure.username == username))
        if gone.rowcount:
            auditlog.log(conn, actor, "user_unlocked", username=username)
    return bool(gone.rowcount)


def check_password(url: str, username: str, password: str) -> Principal | None:
    """The user if the password is theirs and they are enabled, else None; same cost either way."""
    with db.connect(url) as conn:
        row = conn.execute(
            select(*_PRINCIPAL_COLUMNS).where(User.username == username, User.disabled.is_(False))
        ).first()
    stored = row.password_hash if row is not None else None
    ok = verify_password(password, stored or _DECOY)
    if row is None or stored is None or not ok:
        return None
    return _principal(row)
