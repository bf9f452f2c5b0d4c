"""`accord events --out DIR`: recalls reach recalls.csv even when writing it fails once
(issue 23, high 3).

A bad ``--out`` is refused before anything is applied.  A recalls.csv that cannot be
written after the events were committed (a full disk, a kill) is written by the next
`accord events` call, with the recalls the earlier call made, as `accord run` delivers
the disclosures of a run that died before its files were written.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from web_support import WebState

from accord.cli import main
from accord.store import db
from accord.store.models import Event, Recall

HEADER = "event_id,person_id,event_type,event_date,detail\n"
OVERTURNED = HEADER + "EV-1,P-1,decision_overturned,2026-01-10,appeal allowed\n"
LEAVE = HEADER + "EV-2,P-3,leave_granted,2026-01-11,\n"


def _count(url: str, model: Any) -> int:
    with db.connect(url) as conn:
        return int(conn.scalar(select(func.count()).select_from(model)) or 0)


def _recalls_csv(folder: Path) -> list[dict[str, str]]:
    with (folder / "recalls.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _events(web: WebState, path: Path, out: Path) -> int:
    return main(["events", str(path), "--out", str(out), "--database", web.url])


def test_an_out_folder_under_a_file_is_refused_before_anything_is_applied(
    web: WebState, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "events.csv"
    events.write_text(OVERTURNED)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for out in (blocker / "sub", blocker):
        assert _events(web, events, out) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"accord: --out {out}") and "\n" not in err, err
        assert "a-file" in err and "not a folder" in err
    assert _count(web.url, Event) == 0 and _count(web.url, Recall) == 0
    assert blocker.read_text() == "not a folder"
    # With a usable --out the same file applies, and its recall is written.
    assert _events(web, events, tmp_path / "out") == 0
    (recall,) = _recalls_csv(tmp_path / "out")
    assert recall["disclosure_id"] == web.disclosure_of["P-1"]


def test_recalls_a_failed_write_lost_are_written_by_the_next_call(
    web: WebState,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events = tmp_path / "events.csv"
    events.write_text(OVERTURNED)
    import accord.cli.remedy as cli_remedy

    real = cli_remedy.write_csv_atomically

    def disk_full(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli_remedy, "write_csv_atomically", disk_full)
    assert _events(web, events, tmp_path / "first") == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "No space left on device" in err
    assert "next `accord events`" in err
    assert not (tmp_path / "first" / "recalls.csv").exists()
    assert _count(web.url, Recall) == 1  # committed: recalled, but not yet in any file
    monkeypatch.setattr(cli_remedy, "write_csv_atomically", real)

    # The rerun finds the events already applied, and still writes the recall they made.
    assert _events(web, events, tmp_path / "second") == 0
    assert "1 already applied" in capsys.readouterr().out
    (recall,) = _recalls_csv(tmp_path / "second")
    assert recall["disclosure_id"] == web.disclosure_of["P-1"]
    assert recall["reason"] == "decision_overturned"

    # Delivered once: a later call writes only what it recalls itself.
    later = tmp_path / "later.csv"
    later.write_text(LEAVE)
    assert _events(web, later, tmp_path / "third") == 0
    assert [r["disclosure_id"] for r in _recalls_csv(tmp_path / "third")] == [
        web.disclosure_of["P-3"]
    ]
    assert _events(web, events, tmp_path / "fourth") == 0
    assert _recalls_csv(tmp_path / "fourth") == []
