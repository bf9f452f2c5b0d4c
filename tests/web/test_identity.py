"""Users, roles, password and token hashing, and the `accord users` commands."""

from __future__ import annotations

import datetime as dt
import io
import sys

import pytest
from sqlalchemy import func, select, update

from accord import identity
from accord.cli import main
from accord.errors import AccordError
from accord.store import db
from accord.store.models import ApiToken, AuditLog, LoginFailure, User


def test_password_hashes_verify_and_are_salted() -> None:
    a = identity.hash_password("correct horse battery")
    b = identity.hash_password("correct horse battery")
    assert a != b and a.startswith("scrypt$")
    assert identity.verify_password("correct horse battery", a)
    assert not identity.verify_password("correct horse batterY", a)
    for broken in (None, "", "scrypt$x", "md5$1$2$3$4$5", a.replace("scrypt", "bcrypt")):
        assert not identity.verify_password("correct horse battery", broken)


def test_tokens_are_random_and_only_their_digest_is_kept(db_url: str) -> None:
    identity.add_user(db_url, "dvla1", "recipient", recipient="dvla")
    t1 = identity.issue_token(db_url, "dvla1", "nightly fetch")
    t2 = identity.issue_token(db_url, "dvla1", "nightly fetch")
    assert t1 != t2 and t1.startswith(identity.TOKEN_PREFIX) and len(t1) > 40
    with db.connect(db_url) as conn:
        stored = set(conn.scalars(select(ApiToken.token_sha256)))
        principal = identity.principal_for_token(conn, t1)
        assert identity.principal_for_token(conn, t1 + "x") is None
        assert identity.principal_for_token(conn, "not-a-token") is None
    assert stored == {identity.token_digest(t1), identity.token_digest(t2)}
    assert t1 not in str(stored)
    assert principal is not None and (principal.role, principal.recipient) == ("recipient", "dvla")


def test_expired_revoked_and_disabled_tokens_fail(db_url: str) -> None:
    identity.add_user(db_url, "aud1", "auditor")
    expiring = identity.issue_token(db_url, "aud1", "a", expires_days=1)
    revoked = identity.issue_token(db_url, "aud1", "b")
    assert identity.revoke_tokens(db_url, "aud1", label="b") == 1
    with db.connect(db_url) as conn:
        assert identity.principal_for_token(conn, expiring) is not None
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
        assert identity.principal_for_token(conn, expiring, now=later) is None
        assert identity.principal_for_token(conn, revoked) is None
    identity.disable_user(db_url, "aud1")
    with db.connect(db_url) as conn:
        assert identity.principal_for_token(conn, expiring) is None
    with pytest.raises(AccordError, match="disabled"):
        identity.issue_token(db_url, "aud1", "c")


def test_passwords_check_and_bind_the_session_fingerprint(db_url: str) -> None:
    identity.add_user(db_url, "rev1", "reviewer", password="a good long password")
    who = identity.check_password(db_url, "rev1", "a good long password")
    assert who is not None and who.role == "reviewer"
    assert identity.check_password(db_url, "rev1", "wrong password!") is None
    assert identity.check_password(db_url, "nobody", "a good long password") is None
    identity.set_password(db_url, "rev1", "another long password")
    again = identity.check_password(db_url, "rev1", "another long password")
    assert again is not None and again.fingerprint != who.fingerprint
    identity.add_user(db_url, "tokenonly", "auditor")
    assert identity.check_password(db_url, "tokenonly", "") is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"role": "superuser"}, "unknown role"),
        ({"role": "recipient"}, "bound to one recipient"),
        ({"role": "subject"}, "bound to their own person"),
        ({"role": "reviewer", "recipient": "dvla"}, "only for role recipient"),
        ({"role": "auditor", "person_id": "P-1"}, "only for role subject"),
        ({"role": "reviewer", "password": "short"}, "password too short"),
    ],
)
def test_users_are_bound_to_their_scope(db_url: str, kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    args = dict(kwargs)
    role = args.pop("role")
    with pytest.raises(AccordError, match=message):
        identity.add_user(db_url, "someone", role, **args)


def test_usernames_are_checked_and_unique(db_url: str) -> None:
    for bad in ("", "-x", "a b", "x" * 65, "é"):
        with pytest.raises(AccordError, match="username"):
            identity.add_user(db_url, bad, "auditor")
    identity.add_user(db_url, "a.b@c-d_e", "auditor")
    with pytest.raises(AccordError, match="already exists"):
        identity.add_user(db_url, "a.b@c-d_e", "admin")
    with pytest.raises(AccordError, match="no user"):
        identity.issue_token(db_url, "ghost", "x")
    with pytest.raises(AccordError, match="label"):
        identity.issue_token(db_url, "a.b@c-d_e", "  ")


def test_changes_to_users_are_audited(db_url: str) -> None:
    identity.add_user(db_url, "adm1", "admin", actor="root")
    identity.issue_token(db_url, "adm1", "ops", actor="root")
    identity.disable_user(db_url, "adm1", actor="root")
    with db.session(db_url) as s:
        actions = [a.action for a in s.scalars(select(AuditLog).order_by(AuditLog.id))]
    assert actions == ["user_added", "token_issued", "user_disabled"]


# --- the command line ------------------------------------------------------------------------


def _run(args: list[str], monkeypatch: pytest.MonkeyPatch, stdin: str = "") -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return main(args)


def test_users_commands(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--database", db_url]
    assert (
        _run(
            ["users", "add", "dvla1", "--role", "recipient", "--recipient", "dvla", *base],
            monkeypatch,
        )
        == 0
    )
    assert "dvla1 added: recipient for dvla" in capsys.readouterr().out
    code = _run(
        ["users", "add", "rev1", "--role", "reviewer", "--password-stdin", *base],
        monkeypatch,
        stdin="a long enough password\n",
    )
    assert code == 0
    with db.connect(db_url) as conn:
        stored = conn.scalar(select(User.password_hash).where(User.username == "rev1"))
    assert identity.verify_password("a long enough password", stored)
    capsys.readouterr()
    assert _run(["users", "token", "dvla1", "--label", "fetch", *base], monkeypatch) == 0
    printed = capsys.readouterr()
    token = printed.out.strip()
    assert token.startswith(identity.TOKEN_PREFIX) and "only its hash" in printed.err
    with db.connect(db_url) as conn:
        assert identity.principal_for_token(conn, token) is not None
    assert _run(["users", "list", *base], monkeypatch) == 0
    listing = capsys.readouterr().out
    assert "dvla1" in listing and "rev1" in listing and token not in listing
    assert _run(["users", "revoke", "dvla1", *base], monkeypatch) == 0
    assert _run(["users", "disable", "rev1", *base], monkeypatch) == 0
    with db.connect(db_url) as conn:
        assert identity.principal_for_token(conn, token) is None
        assert conn.scalar(select(User.disabled).where(User.username == "rev1")) is True


@pytest.mark.parametrize(
    "args, stdin, message",
    [
        (["users", "add", "x", "--role", "boss"], "", "unknown role"),
        (["users", "add", "x", "--role", "recipient"], "", "--recipient"),
        (["users", "add", "x", "--role", "auditor", "--password-stdin"], "", "no password"),
        (["users", "add", "x", "--role", "auditor", "--password-stdin"], "short\n", "too short"),
        (["users", "token", "ghost"], "", "no user 'ghost'"),
        (["users", "disable", "ghost"], "", "no user 'ghost'"),
    ],
)
def test_users_command_errors_are_one_line_exit_2(
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    stdin: str,
    message: str,
) -> None:
    assert _run([*args, "--database", db_url], monkeypatch, stdin) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_serve_refuses_a_database_without_the_schema(
    empty_db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["serve", "--database", empty_db_url, "--port", "1"], monkeypatch) == 2
    assert "accord init" in capsys.readouterr().err
    assert _run(["serve", "--port", "0", "--database", empty_db_url], monkeypatch) == 2


def test_disabling_is_immediate_for_sessions_too(db_url: str) -> None:
    identity.add_user(db_url, "case1", "caseworker", password="a long enough password")
    with db.connect(db_url) as conn:
        assert identity.principal_for_user(conn, "case1") is not None
        conn.execute(update(User).where(User.username == "case1").values(disabled=True))
        assert identity.principal_for_user(conn, "case1") is None


def test_the_lock_doubles_after_the_free_failures_up_to_its_ceiling() -> None:
    free = identity.FREE_FAILURES
    assert [identity.lock_after(n) for n in range(1, free + 1)] == [None] * free
    locks = [identity.lock_after(n) for n in range(free + 1, free + 8)]
    first = identity.LOCK_FIRST
    assert locks[:5] == [first, first * 2, first * 4, first * 8, first * 16]
    assert locks[5] == locks[6] == identity.LOCK_MAX
    assert identity.lock_after(10**6) == identity.LOCK_MAX


def test_repeated_failures_lock_a_username_even_against_the_right_password(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    identity.add_user(db_url, "rev1", "reviewer", password="a good long password")
    t0 = dt.datetime.now(dt.UTC).replace(microsecond=0)  # `users list` reads the clock
    for n in range(identity.FREE_FAILURES):
        attempt = identity.sign_in(db_url, "rev1", "guess", t0 + dt.timedelta(seconds=n))
        assert attempt.principal is None and attempt.locked_for is None
    at = t0 + dt.timedelta(seconds=10)
    assert identity.sign_in(db_url, "rev1", "guess", at).locked_for is None  # counted, locks
    locked = identity.sign_in(db_url, "rev1", "a good long password", at + dt.timedelta(seconds=5))
    assert locked.principal is None and locked.locked_for == identity.LOCK_FIRST - dt.timedelta(
        seconds=5
    )
    # Once the lock has run out the right password works, and the count starts again.
    later = at + identity.LOCK_FIRST
    assert identity.sign_in(db_url, "rev1", "a good long password", later).principal is not None
    with db.connect(db_url) as conn:
        assert conn.scalar(select(func.count()).select_from(LoginFailure)) == 0
    # A username nobody has is counted and locked the same way: a lock tells nothing.
    for n in range(identity.FREE_FAILURES + 2):
        ghost = identity.sign_in(db_url, "ghost", "guess", later + dt.timedelta(seconds=n))
    assert ghost.locked_for is not None
    # An administrator can lift a lock before it runs out; that is audited.
    for n in range(identity.FREE_FAILURES + 1):
        identity.sign_in(db_url, "rev1", "guess", later + dt.timedelta(seconds=n))
    now = later + dt.timedelta(seconds=10)
    assert identity.sign_in(db_url, "rev1", "a good long password", now).locked_for is not None
    [rev1] = [u for u in identity.list_users(db_url, now) if u.username == "rev1"]
    locked_at = later + dt.timedelta(seconds=identity.FREE_FAILURES)
    assert (rev1.failed_sign_ins, rev1.locked_until) == (
        identity.FREE_FAILURES + 1,
        locked_at + identity.LOCK_FIRST,
    )
    assert [u.username for u in identity.list_users(db_url, now)] == ["rev1"]  # not "ghost"
    [free] = identity.list_users(db_url, locked_at + identity.LOCK_FIRST)
    assert free.locked_until is None and free.failed_sign_ins == identity.FREE_FAILURES + 1
    capsys.readouterr()
    assert _run(["users", "list", "--database", db_url], monkeypatch) == 0
    assert "locked until" in capsys.readouterr().out
    assert _run(["users", "unlock", "rev1", "--by", "adm1", "--database", db_url], monkeypatch) == 0
    assert "sign-in open again" in capsys.readouterr().out
    assert identity.sign_in(db_url, "rev1", "a good long password", now).principal is not None
    assert _run(["users", "unlock", "rev1", "--database", db_url], monkeypatch) == 0
    assert "no failed sign-ins on record" in capsys.readouterr().out
    with db.connect(db_url) as conn:
        actions = conn.scalars(select(AuditLog.action).where(AuditLog.actor == "adm1")).all()
    assert list(actions) == ["user_unlocked"]


def test_a_count_is_forgotten_a_day_after_its_last_failure(db_url: str) -> None:
    t0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    for n in range(3):
        identity.sign_in(db_url, f"sprayed{n}", "guess", t0)
    identity.sign_in(db_url, "sprayed1", "guess", t0 + dt.timedelta(hours=12))
    identity.sign_in(db_url, "now", "guess", t0 + identity.FORGET_AFTER + dt.timedelta(hours=1))
    with db.connect(db_url) as conn:
        kept = conn.scalars(select(LoginFailure.username).order_by(LoginFailure.username)).all()
    assert list(kept) == ["now", "sprayed1"]  # failed within the day before
