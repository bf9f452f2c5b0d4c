"""`accord scores load`: a scores file is taken in whole or not at all, idempotently (F8).

Every way a file can be wrong is refused with one line naming the file, the row and the
column, exit status 2, and nothing from the file written.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from accord.cli import main
from accord.store import db
from accord.store.models import AuditLog, CaseDecision, DerivedScore

HEADER = "score_id,person_id,kind,value,role,computed_at,explanation"
GOOD = 'S1,P1,risk,0.7,subject,2026-05-01,"{""inputs"": [""arrests""], ""method"": ""v1""}"'


def agreement(folder: Path, agreement_id: str, days: int, status: str = "active") -> None:
    folder.mkdir(exist_ok=True)
    (folder / f"{agreement_id}.yaml").write_text(
        f"id: {agreement_id}\ntitle: Scores\nsource: police\nrecipient: bank\n"
        f"purpose: safeguarding\nlegal_basis: s.1\ndata_categories: [derived_score]\n"
        "fields: [family_name, score_kind, score_value, score_role, score_explanation]\n"
        f"status: {status}\nvalid_from: 2026-01-01\nreview_by: 2027-01-01\n"
        "match: {disclose_at: 0.999, review_from: 0.9, ambiguity_margin: 0.05}\n"
        "impact_assessment: {document_id: DPIA-1, date: 2026-01-01}\n"
        f"score_retention_days: {days}\n"
    )


@pytest.fixture
def agreements(tmp_path: Path) -> Path:
    folder = tmp_path / "agreements"
    agreement(folder, "scores-a", 180)
    agreement(folder, "scores-b", 365)
    agreement(folder, "scores-draft", 3650, status="draft")  # not in force: no say
    return folder


@pytest.fixture
def people(db_url: str) -> str:
    with db.session(db_url) as s:
        s.add_all(
            [
                CaseDecision(
                    case_id=f"C{p}",
                    person_id=p,
                    family_name="Doe",
                    given_names="Jo",
                    decision="refusal",
                    decision_date=dt.date(2025, 1, 1),
                )
                for p in ("P1", "P2")
            ]
        )
        s.commit()
    return db_url


def write(tmp_path: Path, *rows: str, name: str = "scores.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def load(path: Path, url: str, agreements: Path | None, as_of: str = "2026-06-30") -> int:
    args = ["scores", "load", str(path), "--as-of", as_of, "--database", url]
    return main([*args, *(["--agreements", str(agreements)] if agreements else [])])


def held(url: str) -> int:
    with db.connect(url) as conn:
        return int(conn.scalar(select(func.count()).select_from(DerivedScore)) or 0)


@pytest.mark.parametrize(
    ("row", "column", "message"),
    [
        ("S1,P1,risk,high,subject,2026-05-01,{}", "value", "'high' is not a finite number"),
        ("S1,P1,risk,nan,subject,2026-05-01,{}", "value", "is not a finite number"),
        ("S1,P1,risk,0.7,perpetrator,2026-05-01,{}", "role", "is not one of: subject, victim"),
        ("S1,P1,risk,0.7,subject,01/05/2026,{}", "computed_at", "is not a date in YYYY-MM-DD"),
        ("S1,P1,risk,0.7,subject,2026-05-01,not json", "explanation", "is not valid JSON"),
        ('S1,P1,risk,0.7,subject,2026-05-01,"[1, 2]"', "explanation", "not an object"),
        ('S1,P1,risk,0.7,subject,2026-05-01,"{""inputs"": [""x""]}"', "explanation",
         "has no method"),
        ('S1,P1,risk,0.7,subject,2026-05-01,"{""inputs"": [], ""method"": ""v1""}"',
         "explanation", "has no inputs"),
        # Two values for one key: one reading would take the first, another the last.
        ('S1,P1,risk,0.7,subject,2026-05-01,"{""inputs"": [""x""], ""method"": ""v1"", '
         '""method"": ""v2""}"', "explanation", "has a key given twice in one object"),
        ('S1,P1,risk,0.7,subject,2026-05-01,"{""inputs"": [""x""], ""method"": '
         '{""name"": ""a"", ""name"": ""b""}}"', "explanation", "given twice"),
        (",P1,risk,0.7,subject,2026-05-01,{}", "score_id", "is required but empty"),
        ("S1,P1,,0.7,subject,2026-05-01,{}", "kind", "is required but empty"),
    ],
)  # fmt: skip
def test_a_bad_value_is_refused_with_file_row_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], row: str, column: str, message: str
) -> None:
    path = write(tmp_path, GOOD.replace("S1", "S0"), row)
    url = f"sqlite:///{tmp_path / 'never-opened.db'}"  # refused before any database is used
    assert load(path, url, None) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"accord: {path}, row 2, column {column}: ") and message in err
    assert err.count("\n") == 1


def test_a_missing_column_and_a_duplicate_id_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'never-opened.db'}"
    path = tmp_path / "short.csv"
    path.write_text(
        "score_id,person_id,kind,value,role,computed_at\nS1,P1,r,1,subject,2026-01-01\n"
    )
    assert load(path, url, None) == 2
    assert f"{path}, column explanation: required column is missing" in capsys.readouterr().err
    assert load(write(tmp_path, GOOD, GOOD), url, None) == 2
    assert "row 2, column score_id: duplicate score_id 'S1' (first at row 1)" in (
        capsys.readouterr().err
    )


def test_loading_sets_retain_until_from_the_longest_agreement_and_is_idempotent(
    people: str, agreements: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, GOOD, GOOD.replace("S1", "S2").replace("P1", "P2"))
    assert load(path, people, agreements) == 0
    assert "2 score(s) loaded, 0 already held" in capsys.readouterr().out
    with db.connect(people) as conn:
        row = conn.execute(select(DerivedScore).where(DerivedScore.score_id == "S1")).one()
        assert row.retain_until == dt.date(2026, 5, 1) + dt.timedelta(days=365)
        assert row.explanation == {"inputs": ["arrests"], "method": "v1"} and row.value == 0.7
    # The same scores again, one explanation spelled differently: nothing changes.
    same = GOOD.replace('{""inputs"": [""arrests""], ""method"": ""v1""}',
                        '{ ""method"": ""v1"",  ""inputs"": [""arrests""] }')  # fmt: skip
    again = write(tmp_path, same, GOOD.replace("S1", "S2").replace("P1", "P2"), name="b.csv")
    assert load(again, people, agreements) == 0
    assert "0 score(s) loaded, 2 already held" in capsys.readouterr().out
    assert held(people) == 2
    with db.connect(people) as conn:
        logged = conn.scalars(
            select(AuditLog.detail)
            .where(AuditLog.action == "scores_loaded")
            .order_by(AuditLog.id)  # PostgreSQL returns rows in no set order without it
        )
        assert [d["loaded"] for d in logged] == [2, 0]


def test_the_retention_limit_comes_from_the_agreements_stored_when_none_are_named(
    people: str, agreements: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, GOOD)
    assert load(path, people, None) == 2  # nothing stored yet: no limit, so nothing held
    err = capsys.readouterr().err
    assert "no agreement in force shares derived_score with a retention limit" in err
    assert held(people) == 0
    assert main(["agreements", "load", str(agreements / "scores-a.yaml"), "--database",
                 people]) == 0  # fmt: skip
    assert load(path, people, None) == 0
    with db.connect(people) as conn:
        until = conn.scalar(select(DerivedScore.retain_until))
    assert until == dt.date(2026, 5, 1) + dt.timedelta(days=180)


@pytest.mark.parametrize(
    ("row", "column", "message"),
    [
        (GOOD.replace("P1", "P9"), "person_id", "unknown person 'P9'"),
        (GOOD.replace("0.7", "0.9"), "value", "score 'S1' is held with value 0.7"),
        (GOOD.replace("subject", "witness"), "role", "is held with role subject"),
        (GOOD.replace("2026-05-01", "2026-04-01"), "computed_at", "is held with computed_at"),
        (GOOD.replace("v1", "v2"), "explanation", "is held with another explanation"),
        (GOOD.replace("S1", "S3").replace("2026-05-01", "2026-07-01"), "computed_at",
         "is after the as-of date 2026-06-30"),
        (GOOD.replace("S1", "S3").replace("2026-05-01", "2025-06-01"), "computed_at",
         "is more than 365 days before 2026-06-30"),
        (GOOD.replace("S1", "S3").replace('[""arrests""]', "[1e400]"), "explanation",
         "holds the number 1e400, too large to be exact"),
    ],
)  # fmt: skip
def test_a_file_that_cannot_be_taken_in_is_refused_whole(
    people: str,
    agreements: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    row: str,
    column: str,
    message: str,
) -> None:
    assert load(write(tmp_path, GOOD, name="first.csv"), people, agreements) == 0
    capsys.readouterr()
    path = write(tmp_path, GOOD.replace("S1", "S2").replace("P1", "P2"), row)
    assert load(path, people, agreements) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"accord: {path}, row 2, column {column}: ") and message in err
    assert held(people) == 1  # row 1 was fine, and is not written either


def test_a_destroyed_scores_id_is_never_reused(
    people: str, agreements: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert load(write(tmp_path, GOOD), people, agreements) == 0
    with db.connect(people) as conn:
        conn.execute(
            update(DerivedScore).values(
                destroyed_at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC), value=0, explanation={}
            )
        )
    capsys.readouterr()
    assert load(write(tmp_path, GOOD, name="again.csv"), people, agreements) == 2
    assert "row 1, column score_id: score 'S1' was destroyed" in capsys.readouterr().err
