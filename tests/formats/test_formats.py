"""Reading and validating the interchange files (SPEC.md): every failure a user can cause."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from accord import formats
from accord.cli import main
from accord.errors import InputError

HEADER = (
    "case_id,person_id,family_name,given_names,date_of_birth,nationality,postcode,"
    "decision,decision_date,refusal_reason,appeal_status,leave,leave_expiry,arrival_date,"
    "departure_date,data_category"
)
GOOD_ROWS = [
    "C1,P1,O'Brien,Siobhán,1984-03-12,IRL,SW1A 1AA,refusal,2019-02-11,eligibility,none,none,,,,",
    "C2,P2,Nguyễn,Thị Lan,1990-11-05,VNM,B12 9QT,grant,2024-01-15,,,limited,2027-03-31,,,",
    "C3,P3,Мельник,Олександр,,UKR,,refusal,2025-09-09,suitability,in_time,none,,,,",
    "C4,P4,محمد,عبد الله,1995-05-17,SDN,LS6 2AB,information,2023-06-30,,,,,,,education",
    "C5,P5,Campbell-Lewis,Hubert Winston,1958-07-30,JAM,E8 3PN,refusal,2017-10-04,,,,,1962-04-02,,",
    "C6,P6,李,小龙,1940-11-27,XXA,,refusal,2017-10-04,deception,exhausted,none,,,,",
]


def write(tmp_path: Path, text: str | bytes, name: str = "cases.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


def good_cases(tmp_path: Path) -> Path:
    return write(tmp_path, "\n".join([HEADER, *GOOD_ROWS]) + "\n")


def test_a_good_file_in_many_scripts_is_valid_and_exits_0(tmp_path: Path, capsys) -> None:
    path = good_cases(tmp_path)
    assert formats.validate(path, "cases").ok
    assert main(["validate", "cases", str(path)]) == 0
    assert "6 rows, valid cases file" in capsys.readouterr().out


def test_load_types_dates_keeps_names_exact_and_adds_missing_optional_columns(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "case_id,person_id,family_name,given_names,decision,decision_date,x\n"
                 "C1,P1,O'Brien-Ñúñez,Zoë 李,refusal,2020-02-29,kept\n")  # fmt: skip
    table = formats.load(path, "cases")
    row = table.to_pylist()[0]
    assert row["family_name"] == "O'Brien-Ñúñez" and row["given_names"] == "Zoë 李"
    assert row["decision_date"] == dt.date(2020, 2, 29)
    assert row["date_of_birth"] is None and row["data_category"] is None
    assert row["x"] == "kept" and row["__row"] == 1


def test_every_problem_at_once_is_reported_precisely(tmp_path: Path, capsys) -> None:
    header = HEADER.replace("decision_date,", "")  # a missing required column
    big = "x" * (10 * 1024 * 1024)
    rows = [
        "C1,P1,Ann,Bo,1984-02-30,GBR,,refusal,,,,,,,",  # bad date (no 30 Feb)
        "C2,P2,Ann,Bo,1984-01-01,GBR,,refusl,,,,,,,",  # unknown decision
        "C1,P3,Ann,Bo,1984-01-01,GBR,,grant,,,,,,,",  # duplicate case_id
        "C4,P4,A\x00nn,Bo,1984-01-01,GBR,,grant,,,,,,,",  # NUL byte in a name
        f"C5,P5,Ann,{big},1984-01-01,GBR,,grant,,,,,,,",  # a 10 MB field
    ]
    path = write(tmp_path, "\n".join([header, *rows]) + "\n")
    report = formats.validate(path, "cases")
    found = {(p.row, p.column): p.message for p in report.problems}
    assert found[(None, "decision_date")] == "required column is missing"
    assert found[(1, "date_of_birth")] == "'1984-02-30' is not a date in YYYY-MM-DD form"
    assert found[(2, "decision")].startswith("'refusl' is not one of: grant, refusal")
    assert found[(3, "case_id")] == "duplicate case_id 'C1' (first at row 1)"
    assert found[(4, "family_name")] == "contains a NUL byte"
    assert found[(5, "given_names")] == "is 10485760 bytes long; the limit is 1024"
    assert report.total == 6
    assert main(["validate", "cases", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}, row 3, column case_id: duplicate case_id 'C1'" in err
    with pytest.raises(InputError) as exc:
        formats.load(path, "cases")
    assert str(exc.value).endswith("(and 5 more problems)")


def test_only_the_first_20_are_listed_then_a_count(tmp_path: Path, capsys) -> None:
    rows = [f"C{i},P{i},Ann,Bo,bad-date,GBR,,grant,2020-01-01,,,,,,," for i in range(30)]
    path = write(tmp_path, "\n".join([HEADER, *rows]) + "\n")
    report = formats.validate(path, "cases")
    assert len(report.problems) == 20 and report.total == 30
    assert [p.row for p in report.problems] == list(range(1, 21))
    assert main(["validate", "cases", str(path)]) == 2
    assert "... and 10 more problems (30 in all)" in capsys.readouterr().err


def test_bom_and_windows_line_endings_are_accepted(tmp_path: Path) -> None:
    text = "\r\n".join([HEADER, *GOOD_ROWS]) + "\r\n"
    path = write(tmp_path, b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert formats.validate(path, "cases").ok
    table = formats.load(path, "cases")
    assert table.column("case_id").to_pylist()[0] == "C1"
    assert table.column("data_category").to_pylist()[3] == "education"


def test_invalid_utf8_is_located(tmp_path: Path) -> None:
    data = ("\n".join([HEADER, *GOOD_ROWS[:2]]) + "\n").encode()
    data = data.replace("Thị".encode(), b"Th\xff")
    report = formats.validate(write(tmp_path, data), "cases")
    assert [(p.row, p.column, p.message) for p in report.problems] == [
        (2, "given_names", "is not valid UTF-8")
    ]


def test_a_ragged_row_is_located(tmp_path: Path) -> None:
    path = write(tmp_path, "\n".join([HEADER, GOOD_ROWS[0], GOOD_ROWS[1] + ",extra"]) + "\n")
    with pytest.raises(InputError) as exc:
        formats.load(path, "cases")
    assert exc.value.problems[0].row == 2
    assert "more fields than the header" in str(exc.value)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("cases.txt", "x", "unknown file type .txt: use .csv or .parquet"),
        ("cases.csv", "", "the file is empty: a header row is required"),
        ("missing.csv", None, "no such file"),
        ("cases.parquet", "not parquet", "cannot be read as parquet"),
    ],
)
def test_unreadable_files_are_one_line_and_exit_2(
    tmp_path: Path, capsys, name: str, content: str | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    assert main(["validate", "cases", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_parquet_with_real_date_types_is_read(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "record_id": ["R1", "R2"],
            "family_name": ["Ng", "Ó Súilleabháin"],
            "given_names": ["Mei", "Pádraig"],
            "date_of_birth": [dt.date(1970, 1, 2), None],
            "since": [dt.date(1975, 5, 5), dt.date(2001, 1, 1)],
        }
    )
    path = tmp_path / "dvla.parquet"
    frame.write_parquet(path)
    table = formats.load(path, "register")
    assert table.column("date_of_birth").to_pylist() == [dt.date(1970, 1, 2), None]
    assert table.column("postcode").null_count == 2


def test_enumerations_and_countries_are_checked(tmp_path: Path) -> None:
    text = "event_id,person_id,event_type,event_date,detail\n"
    text += "E1,P1,dispute_opened,2026-01-01,\nE2,P1,appeal,2026-01-01,x\n"
    events = write(tmp_path, text, "e.csv")
    report = formats.validate(events, "events")
    assert [(p.row, p.column) for p in report.problems] == [(2, "event_type")]
    cases = write(tmp_path, "\n".join([HEADER, GOOD_ROWS[0].replace(",IRL,", ",ZZZ,")]) + "\n")
    (problem,) = formats.validate(cases, "cases").problems
    assert problem.message == "'ZZZ' is not an ISO 3166-1 alpha-3 code"


def test_unknown_kind_is_a_usage_error(tmp_path: Path, capsys) -> None:
    assert main(["validate", "nonsense", str(good_cases(tmp_path))]) == 2
    assert "is not a file kind" in capsys.readouterr().err


# --- one name (SPEC.md: either name part may be empty, not both) ------------------------------

REGISTER_HEADER = "record_id,family_name,given_names,date_of_birth,postcode,since"


def test_a_person_with_one_name_is_accepted_either_way_round(tmp_path: Path, capsys) -> None:
    cases = write(
        tmp_path,
        "\n".join(
            [
                HEADER,
                "C1,P1,,Sukarno,1975-03-14,IDN,,refusal,2024-02-01,eligibility,none,none,,,,",
                "C2,P2,Haile,,1980-07-02,ERI,,refusal,2023-05-10,suitability,none,none,,,,",
                "C3,P3,Haile,  ,1980-07-02,ERI,,refusal,2023-05-10,suitability,none,none,,,,",
            ]
        )
        + "\n",
    )
    assert main(["validate", "cases", str(cases)]) == 0
    assert "3 rows, valid cases file" in capsys.readouterr().out
    rows = formats.load(cases, "cases").to_pylist()
    names = [(r["family_name"], r["given_names"]) for r in rows]
    assert names == [(None, "Sukarno"), ("Haile", None), ("Haile", None)]  # blank is empty
    register = write(
        tmp_path,
        f"{REGISTER_HEADER}\nR1,,SUKARNO,1975-03-14,,\nR2,HAILE,,,,\nR3,HAILE,HAILE,,,\n",
        "dvla.csv",
    )
    assert formats.validate(register, "register").ok
    assert formats.load(register, "register").column("family_name").to_pylist() == [
        None,
        "HAILE",
        "HAILE",
    ]
    # A record from the API: an empty part arrives as "" or null.
    records = [{"record_id": "R1", "family_name": "", "given_names": "Sukarno"}]
    table = formats.load_records(records, "register", "request body")
    assert table.column("family_name").to_pylist() == [None]


def test_a_row_with_no_name_at_all_is_taken_and_its_columns_are_still_required(
    tmp_path: Path, capsys
) -> None:
    # One nameless row does not make a file unusable (FEBRL4 has three): the person is
    # quarantined at admission (missing_name), a register record compared without names.
    rows = [
        "C1,P1,,Sukarno,1975-03-14,IDN,,refusal,2024-02-01,eligibility,none,none,,,,",
        "C2,P2,,,1980-07-02,ERI,,refusal,2023-05-10,suitability,none,none,,,,",
        "C3,P3, ,  ,1980-07-02,ERI,,refusal,2023-05-10,suitability,none,none,,,,",
    ]
    cases = write(tmp_path, "\n".join([HEADER, *rows]) + "\n")
    assert formats.validate(cases, "cases").problems == []
    table = formats.load(cases, "cases")
    assert table.column("family_name").to_pylist() == [None, None, None]
    assert table.column("given_names").to_pylist() == ["Sukarno", None, None]
    register = write(
        tmp_path, f"{REGISTER_HEADER}\nR1,HAILE,,,,\nR2,,,1980-07-02,N1 9GU,\n", "r.csv"
    )
    assert formats.load(register, "register").num_rows == 2
    assert main(["validate", "register", str(register)]) == 0
    capsys.readouterr()
    # The columns themselves are still required.
    no_given = write(tmp_path, "record_id,family_name\nR1,HAILE\n", "n.csv")
    (missing,) = formats.validate(no_given, "register").problems
    assert (missing.row, missing.column, missing.message) == (
        None,
        "given_names",
        "required column is missing",
    )
