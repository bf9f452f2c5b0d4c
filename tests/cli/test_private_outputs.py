"""What Accord writes about people is for its owner alone (issue 23, low 20).

Under the usual umask 022 the database, the oversight report and the batch files were
readable by every user of the machine, and screens with personal data could be kept by
a browser's or a proxy's cache.  Files Accord makes are now owner-only whatever the
umask, and every page is sent ``Cache-Control: no-store``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from web_support import WebState, login

from accord.cli import main


@pytest.fixture
def usual_umask() -> Iterator[None]:
    before = os.umask(0o022)
    yield
    os.umask(before)


def _others_may_read(path: Path) -> bool:
    return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


def test_the_database_and_report_are_owner_only_under_umask_022(
    tmp_path: Path, usual_umask: None
) -> None:
    url = f"sqlite:///{tmp_path / 'accord.db'}"
    key = tmp_path / "ledger.key"
    assert main(["init", "--database", url, "--key", str(key)]) == 0
    report = tmp_path / "reports" / "oversight.html"
    report.parent.mkdir()
    assert main(["report", "--database", url, "--out", str(report)]) == 0
    made = [tmp_path / "accord.db", report, key]
    made += [p for p in tmp_path.glob("accord.db-*")]  # the write-ahead log, if any
    assert [p.name for p in made if _others_may_read(p)] == []
    # The umask of whoever called Accord is theirs again afterwards.
    assert os.umask(0o022) == 0o022


def test_the_recipients_batch_files_are_owner_only(
    tmp_path: Path, web: WebState, usual_umask: None
) -> None:
    events = tmp_path / "events.csv"
    events.write_text(
        "event_id,person_id,event_type,event_date,detail\nEV-1,P-1,decision_overturned,"
        "2026-01-10,\n"
    )
    out = tmp_path / "out"
    assert main(["events", str(events), "--out", str(out), "--database", web.url]) == 0
    assert not _others_may_read(out) and not _others_may_read(out / "recalls.csv")


def test_every_page_is_sent_no_store(client: TestClient, web: WebState) -> None:
    login(client, "rev1")
    for path in ("/review", f"/review/{web.items['uncertain_match']}", "/login"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert page.headers["cache-control"] == "no-store", path
    login(client, "dvla1")
    for path in ("/inbox", "/inbox/batch.csv"):
        assert client.get(path).headers["cache-control"] == "no-store", path
    assert client.get("/api/v1/whoami", headers=web.bearer("dvla1")).headers["cache-control"] == (
        "no-store"
    )
