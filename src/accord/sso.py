"""Staff who sign in through the department's identity provider (OpenID Connect).

The provider proves who someone is; Accord decides what they may do, from the groups the
provider lists in the ID token (``ACCORD_OIDC_GROUP_CLAIM``) and the mapping from group
to role in the settings (``ACCORD_OIDC_ROLES``).  A user is recorded once in the users
table, by issuer and subject (the provider's stable id for them, never the display
name or email, which can change or be reused), under a username made at the first
sign-in, so every audit entry names the same user for good.

Each sign-in brings Accord's record into line with what the provider says now:

* a group mapped to a role: the user is created (first time) or their role is set to
  it (audited as ``user_role_changed`` when it changes; the new role applies to every
  open session at once, since each request reads the role afresh);
* no mapped group on a first sign-in: refused, and nothing about the user is created
  (one ``sso_refused`` audit entry says an unmapped identity tried);
* no mapped group for a returning user: refused, and their account is disabled, so
  their sessions and API tokens stop at once (``sso_disabled``); a later sign-in with
  a mapped group enables it again;
* groups mapping to more than one role: refused, as Accord gives each person one role
  (separation of duties);
* an account an administrator disabled (``accord users disable``) stays disabled
  whatever the groups say.

The web side (Authlib: authorization code with PKCE, state and nonce, the ID token
checked against the provider's keys) is `accord.web.oidc`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update

from accord import auditlog, identity
from accord.errors import AccordError
from accord.identity import Principal
from accord.store import db
from accord.store.models import User, utcnow

# Roles a group may give: staff roles only (a data subject never signs in this way).
STAFF_ROLES = ("reviewer", "caseworker", "auditor", "admin", "recipient")
_ID_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class Role:
    """A role and, for a recipient, the body it acts for."""

    role: str
    recipient: str | None = None

    def __str__(self) -> str:
        return f"{self.role}:{self.recipient}" if self.recipient else self.role


def parse_role(value: str, setting: str) -> Role:
    """``reviewer``, ``caseworker``, ``auditor``, ``admin`` or ``recipient:<body>``."""
    role, _, body = value.strip().partition(":")
    if role not in STAFF_ROLES:
        raise AccordError(
            f"{setting}: {value!r} is not a role: use reviewer, caseworker, auditor, admin "
            "or recipient:<body>"
        )
    if role == "recipient":
        if not _ID_PART.fullmatch(body):
            raise AccordError(f"{setting}: {value!r} needs the recipient body: recipient:<body>")
        return Role(role, body)
    if body:
        raise AccordError(f"{setting}: {value!r}: only recipient takes a body after ':'")
    return Role(role)


def parse_roles(mapping: Mapping[str, Any], setting: str = "ACCORD_OIDC_ROLES") -> dict[str, Role]:
    """The group-to-role mapping of the settings, checked (one line naming the setting)."""
    out: dict[str, Role] = {}
    for group, value in mapping.items():
        if not isinstance(value, str) or not group:
            raise AccordError(f"{setting}: each group must map to a role written as text")
        out[group] = parse_role(value, setting)
    return out


def groups_of(claims: Mapping[str, Any], claim: str) -> list[str]:
    """The group values in ``claims[claim]``: a list of strings, or one string."""
    value = claims.get(claim)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [g for g in value if isinstance(g, str)]
    return []


@dataclass(frozen=True)
class SSOResult:
    """The signed-in user, or why they are refused (in words for them)."""

    principal: Principal | None
    refusal: str | None = None


NO_ACCESS = (
    "You signed in with your organisation's account, but it does not give you access to "
    "Accord. If you need access, ask your manager to add you to the right group."
)
MANY_ROLES = (
    "Your organisation's account gives you more than one role in Accord, and Accord gives "
    "each person one. Ask your manager to leave you in one group only."
)
DISABLED = "Your Accord account has been disabled. Ask an Accord administrator."


def username_for(issuer: str, subject: str, claims: Mapping[str, Any]) -> str:
    """A readable username made once: the provider's name for the user, cleaned, and a
    short digest of issuer and subject that keeps it apart from every local account."""
    raw = ""
    for key in ("preferred_username", "email", "name"):
        value = claims.get(key)
        if isinstance(value, str) and value.strip():
            raw = value.strip()
            break
    base = re.sub(r"[^A-Za-z0-9._@-]+", "-", raw).lstrip("._@-")[:48] or "sso"
    digest = hashlib.sha256(f"{issuer}\0{subject}".encode()).hexdigest()
    return f"{base}-{digest[:6]}"


def display_name_for(claims: Mapping[str, Any], fallback: str) -> str:
    for key in ("name", "preferred_username", "email"):
        value = claims.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:200]
    return fallback


def sign_in(
    url: str,
    issuer: str,
    claims: Mapping[str, Any],
    group_claim: str,
    roles: Mapping[str, Role],
) -> SSOResult:
    """Record (or update) the user the verified ID token ``claims`` name, and say whether
    they may sign in, as the module docstring sets out.  One transaction."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise AccordError("the identity provider's ID token names no subject (sub)")
    mapped = {roles[g] for g in groups_of(claims, group_claim) if g in roles}
    role = next(iter(mapped)) if len(mapped) == 1 else None
    with db.connect(url) as conn:
        db.write_lock(conn)
        row = conn.execute(
            select(User.username, User.role, User.recipient, User.disabled, User.sso_disabled)
            .where(User.sso_issuer == issuer, User.sso_subject == subject)
            .with_for_update()
        ).first()
        if row is None:
            if role is None:
                auditlog.log(
                    conn,
                    "anonymous",
                    "sso_refused",
                    issuer=issuer,
                    reason="several roles" if mapped else "no mapped group",
                )
                return SSOResult(None, MANY_ROLES if mapped else NO_ACCESS)
            username = username_for(issuer, subject, claims)
            taken = conn.scalar(select(User.username).where(User.username == username))
            if taken is not None:  # a local account chose this name: lengthen the digest
                digest = hashlib.sha256(f"{issuer}\0{subject}".encode()).hexdigest()
                username = f"{username.rsplit('-', 1)[0][:40]}-{digest[:20]}"
            conn.execute(
                insert(User).values(
                    username=username,
                    display_name=display_name_for(claims, username),
                    role=role.role,
                    recipient=role.recipient,
                    person_id=None,
                    password_hash=None,
                    created_at=utcnow(),
                    disabled=False,
                    sso_issuer=issuer,
                    sso_subject=subject,
                    sso_disabled=False,
                )
            )
            auditlog.log(
                conn, username, "user_added", username=username, role=role.role,
                recipient=role.recipient, via="sso", issuer=issuer,
            )  # fmt: skip
        else:
            username = row.username
            if row.disabled and not row.sso_disabled:
                auditlog.log(conn, username, "sso_refused", username=username, reason="disabled")
                return SSOResult(None, DISABLED)
            if role is None:
                if not row.disabled:
                    conn.execute(
                        update(User)
                        .where(User.username == username)
                        .values(disabled=True, sso_disabled=True)
                    )
                    auditlog.log(
                        conn, "sso", "user_disabled", username=username,
                        reason="several roles" if mapped else "no mapped group",
                    )  # fmt: skip
                auditlog.log(conn, username, "sso_refused", username=username)
                return SSOResult(None, MANY_ROLES if mapped else NO_ACCESS)
            changes: dict[str, Any] = {"display_name": display_name_for(claims, username)}
            if (row.role, row.recipient) != (role.role, role.recipient):
                changes.update(role=role.role, recipient=role.recipient)
                auditlog.log(
                    conn, "sso", "user_role_changed", username=username,
                    before=str(Role(row.role, row.recipient)), after=str(role),
                )  # fmt: skip
            if row.disabled:
                changes.update(disabled=False, sso_disabled=False)
                auditlog.log(conn, "sso", "user_enabled", username=username)
            conn.execute(update(User).where(User.username == username).values(**changes))
        auditlog.log(conn, username, "login", username=username, via="sso")
        principal = identity.principal_for_user(conn, username)
    assert principal is not None
    return SSOResult(principal)


def describe(roles: Mapping[str, Role]) -> str:
    """The mapping as JSON text, for messages and `accord serve`'s start-up line."""
    return json.dumps({g: str(r) for g, r in roles.items()}, sort_keys=True)
