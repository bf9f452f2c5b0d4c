"""Parallel sign-ins cannot get round the lock-out (issue 23, medium 9).

Thirty wrong passwords sent at once to a running server used to be checked all thirty,
because each read "not locked" before any of them was counted.  Each attempt is now
counted before its password is checked, under a lock on the count, so at most
``FREE_FAILURES + 1`` passwords are checked before the username locks, however many
arrive together.  The requests go to uvicorn on a thread from threads of their own, on
SQLite and PostgreSQL; each password check is made slow, so that without the fix every
attempt would have read the count before any was added to it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import select
from web_support import PASSWORD, SECRET, live_server

from accord import identity
from accord.store import db
from accord.store.models import LoginFailure
from accord.web import create_app

ATTEMPTS = 30


@pytest.fixture
def server(db_url: str) -> Iterator[str]:
    with live_server(create_app(db_url, secret=SECRET)) as base:
        yield base


def test_thirty_wrong_passwords_at_once_check_at_most_the_free_ones_and_lock(
    server: str, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    identity.add_user(db_url, "rev1", "reviewer", password=PASSWORD)
    checked: list[str] = []
    real = identity.verify_password

    def slow_check(password: str, stored: str) -> bool:
        checked.append(password)
        time.sleep(0.3)
        return real(password, stored)

    monkeypatch.setattr(identity, "verify_password", slow_check)
    barrier = threading.Barrier(ATTEMPTS)

    def guess(n: int) -> int:
        with httpx.Client(base_url=server, timeout=120, follow_redirects=False) as http:
            form = http.get("/login").text
            nonce = form.split('name="nonce" value="', 1)[1].split('"', 1)[0]
            barrier.wait()
            done = http.post(
                "/login",
                data={"username": "rev1", "password": f"guess {n}", "nonce": nonce, "next": ""},
            )
            return done.status_code

    with ThreadPoolExecutor(ATTEMPTS) as pool:
        codes = list(pool.map(guess, range(ATTEMPTS)))

    assert len(checked) <= identity.FREE_FAILURES + 1, (len(checked), codes)
    assert codes.count(429) >= ATTEMPTS - identity.FREE_FAILURES - 1, codes
    assert set(codes) <= {200, 401, 429}, codes
    with db.connect(db_url) as conn:
        failures, locked_until = conn.execute(
            select(LoginFailure.failures, LoginFailure.locked_until).where(
                LoginFailure.username == "rev1"
            )
        ).one()
    assert failures == len(checked) and locked_until is not None
    # The right password is refused too, unchecked, while the lock lasts.
    before = len(checked)
    with httpx.Client(base_url=server, timeout=60) as http:
        nonce = http.get("/login").text.split('name="nonce" value="', 1)[1].split('"', 1)[0]
        right = http.post(
            "/login", data={"username": "rev1", "password": PASSWORD, "nonce": nonce, "next": ""}
        )
    assert right.status_code == 429 and len(checked) == before
