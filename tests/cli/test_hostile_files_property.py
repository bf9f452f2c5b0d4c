"""Property (issue 23): every command that reads a file refuses a hostile one in one line
per problem naming the file, with exit status 2, writing nothing, in bounded time and
memory; the API refuses hostile bodies with a 4xx and writes nothing.

Hypothesis makes the files: a valid file of the kind, then one defect that makes it
invalid (an impossible or out-of-range date, an unusable header, UTF-16/UTF-32 or bytes
that are not UTF-8, JSON or YAML nested past the limit, YAML aliases, a ragged row with a
field past Python's csv limit, a value too long), served with any line ending (LF, CR LF,
CR alone) and with up to 1,500 extra columns, as CSV or Parquet.

The commands run in one worker process that imports Accord once and runs each command
as `accord` would (its own main), with its stdout and stderr captured at the file
descriptors (a Rust panic writes there, not to ``sys.stderr``), its address space capped
(``RLIMIT_AS``) and each call given ``CALL_SECONDS``; the worker's peak resident memory is
checked after every call.  "Nothing written": the database's content (its SQL dump) and
every file beside the inputs are the same after the call, and ``--out`` does not exist.

``accord validate`` lists every problem (the first 20, then a count and a summary line),
and ``agreements``/``policy`` ``check``/``load`` every problem of a document: each is one
line naming the file.  The other commands stop at the first problem: exactly one line.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import select
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func
from sqlalchemy import select as sql_select
from web_support import SECRET, WebState

from accord.formats.schema import FORMATS
from accord.store import db
from accord.store.models import CaseDecision, Event, Freeze, Recall, RecipientAction
from accord.web import create_app

CALL_SECONDS = 30.0  # one command on a file of a few MB: well under a second when it is right
ADDRESS_SPACE = 8 << 30  # the worker's cap; importing Polars and DuckDB reserves about 3 GB
PEAK_RSS = 1536 << 20  # resident memory the worker may ever reach
EXAMPLES = 30

WORKER = r"""
import json, os, resource, sys, tempfile, time
cap, fd = int(sys.argv[1]), int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
from accord.cli import main
answers = os.fdopen(fd, "w")
for line in sys.stdin:
    request = json.loads(line)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sys.stdout.flush(); sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(out.fileno(), 1); os.dup2(err.fileno(), 2)
        started = time.monotonic()
        try:
            code = main(request)
        except BaseException as exc:  # a panic, MemoryError: reported, the worker lives on
            code = f"raised {type(exc).__name__}: {str(exc)[:300]}"
        finally:
            sys.stdout.flush(); sys.stderr.flush()
            os.dup2(saved[0], 1); os.dup2(saved[1], 2)
            os.close(saved[0]); os.close(saved[1])
        seconds = time.monotonic() - started
        out.seek(0); err.seek(0)
        answer = {
            "code": code, "seconds": seconds,
            "out": out.read().decode("utf-8", "replace"),
            "err": err.read().decode("utf-8", "replace"),
            "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        }
    answers.write(json.dumps(answer) + "\n"); answers.flush()
"""


class Worker:
    """One process that runs `accord` commands, each with a time limit."""

    def __init__(self, cwd: Path, env: dict[str, str], log: Path) -> None:
        self.cwd, self.env, self.log = cwd, env, log.open("wb")
        self.start()

    def start(self) -> None:
        read, write = os.pipe()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(ADDRESS_SPACE), str(write)],
            stdin=subprocess.PIPE,
            stdout=self.log,  # what the worker itself says, outside any call
            stderr=self.log,
            pass_fds=(write,),
            cwd=self.cwd,
            env=self.env,
            text=True,
        )
        os.close(write)
        self.answers = os.fdopen(read, "r")

    def __call__(self, argv: list[str]) -> dict[str, Any]:
        if self.proc.poll() is not None:  # an earlier call was killed: a new worker
            self.answers.close()
            self.start()
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(argv) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.answers], [], [], CALL_SECONDS)
        if not ready:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"accord {' '.join(argv)} took over {CALL_SECONDS} s")
        line = self.answers.readline()
        if not line:
            said = Path(self.log.name).read_text(errors="replace")[-2000:]
            pytest.fail(f"accord {' '.join(argv)} killed the worker ({self.proc.wait()}): {said}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.answers.close()
        self.log.close()


# --- the valid world the hostile files are put into -----------------------------------------

HEADERS = {kind: [c.name for c in fmt.columns] for kind, fmt in FORMATS.items()}
ROWS = {
    "cases": [
        ["C1", "P1", "Doe", "Jo", "1980-01-01", "GBR", "SW1A 1AA", "refusal", "2024-01-01",
         "eligibility", "none", "none", "", "2001-02-03", "", ""],
        ["C2", "P2", "Nguyễn", "Thị Lan", "1990-11-05", "VNM", "B12 9QT", "grant", "2024-01-15",
         "", "", "limited", "2027-03-31", "", "", ""],
    ],
    "register": [["R1", "DOE", "JO", "1980-01-01", "SW1A 1AA", "2010-05-01"],
                 ["R2", "NGUYEN", "THI LAN", "1990-11-05", "B12 9QT", ""]],
    "events": [["E1", "P1", "evidence_received", "2026-01-02", "a letter"]],
    "actions": [["D1", "revoked", "2026-01-03"]],
    "scores": [["S1", "P1", "risk", "0.7", "subject", "2026-01-01",
                '{"inputs": ["arrests"], "method": "v1"}']],
}  # fmt: skip
AGREEMENT = """\
id: ho-to-dvla
title: Driving licences
source: home-office
recipient: dvla
purpose: immigration_enforcement
legal_basis: Immigration Act 2014, s.46
data_categories: [immigration_casework]
fields: [family_name, given_names, date_of_birth]
status: active
valid_from: 2026-01-01
review_by: 2027-01-01
match: {disclose_at: 0.999, review_from: 0.9, ambiguity_margin: 0.05}
"""
POLICY = "parameters:\n  long_residence_years: 20\n"
AS_OF = "2026-06-01"


@dataclass
class World:
    root: Path
    url: str
    key: Path
    run: Worker
    made: int = 0

    def folder(self) -> Path:
        self.made += 1
        path = self.root / "in" / str(self.made)
        path.mkdir(parents=True)
        return path


def csv_bytes(header: list[str], rows: list[list[str]], eol: str = "\n") -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator=eol).writerows([header, *rows])
    return buffer.getvalue().encode("utf-8", "surrogateescape")


def valid_file(folder: Path, kind: str) -> Path:
    path = folder / f"{kind}.csv"
    path.write_bytes(csv_bytes(HEADERS[kind], ROWS[kind]))
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("hostile")
    (root / "work").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    env["ACCORD_LEDGER_KEY"] = str(root / "ledger.key")
    run = Worker(root / "work", env, tmp_path_factory.mktemp("worker") / "log")
    w = World(root, f"sqlite:///{root / 'accord.db'}", root / "ledger.key", run)
    try:
        answer = run(["init", "--database", w.url, "--key", str(w.key)])
        assert answer["code"] == 0, answer
        with db.session(w.url) as s:
            for p in ("P1", "P2"):
                s.add(CaseDecision(case_id=f"C{p}", person_id=p, family_name="Doe",
                                   given_names="Jo", decision="refusal",
                                   decision_date=dt.date(2025, 1, 1)))  # fmt: skip
            s.commit()
        good = root / "good"
        good.mkdir()
        (good / "agreements").mkdir()
        (good / "agreements" / "ho-to-dvla.yaml").write_text(AGREEMENT)
        (good / "policy.yaml").write_text(POLICY)
        for kind in FORMATS:  # the defect, not the rest of the file, is what is refused
            answer = run(["validate", kind, str(valid_file(good, kind))])
            assert answer["code"] == 0, answer
        for argv in (["agreements", "check", str(good / "agreements"), "--as-of", AS_OF],
                     ["policy", "check", str(good / "policy.yaml")]):  # fmt: skip
            answer = run(argv)
            assert answer["code"] == 0, answer
        # What a command writes shows in the dump: a good agreement loaded changes it.
        before = database_dump(w.url)
        answer = run(["agreements", "load", str(good / "agreements"), "--as-of", AS_OF,
                      "--database", w.url])  # fmt: skip
        assert answer["code"] == 0 and database_dump(w.url) != before, answer
        yield w
    finally:
        run.close()


def database_dump(url: str) -> str:
    path = url.removeprefix("sqlite:///")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return hashlib.sha256("\n".join(conn.iterdump()).encode()).hexdigest()


def files_beside_inputs(root: Path) -> dict[str, tuple[int, int]]:
    """Every file but the inputs and the database's own (its content is compared)."""
    found = {}
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if rel.parts[0] == "in" or path.name.startswith("accord.db"):
            continue
        stat = path.stat()
        found[str(rel)] = (stat.st_size, stat.st_mtime_ns)
    return found


# --- hostile CSV and Parquet files ------------------------------------------------------------

BAD_DATES = [
    "0000-01-01", "0000-12-31", "2025-02-30", "2025-02-29", "2025-13-01", "2025-00-10",
    "2025-04-31", "1999-1-1", "01/02/2003", "99999-01-01", "-001-01-01", "+2025-01-01",
    "２０２５-01-01", "2025-01-01T00:00:00", " 2025-01-01", "2025-01-01 ", "2025–01–01",
    "1e3-01-01", "yesterday", "\x1b[2J2025-01-01", "2025-01-01\x00",
]  # fmt: skip
HEADER_DEFECTS = ["empty", "blank", "nul", "control", "escape", "duplicate", "reserved",
                  "long", "not_utf8", "missing"]  # fmt: skip
ENCODINGS = ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-be"]
KINDS = list(FORMATS)


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]


def add_column(table: Table, name: str, at: int, value: str = "x") -> None:
    table.header.insert(at, name)
    for row in table.rows:
        row.insert(at, value)


@st.composite
def hostile_table(draw: st.DrawFn, kind: str) -> tuple[Table, str, str]:
    """A table of ``kind`` with one defect; the defect's name and the file type to write."""
    fmt = FORMATS[kind]
    table = Table(list(HEADERS[kind]), [list(r) for r in ROWS[kind]])
    extra = draw(st.sampled_from([0, 0, 1, 7, 300, 1500]))
    for k in range(extra):
        add_column(table, f"extra_{k}", len(table.header), f"e{k}")
    defects = ["date", "header", "value", "encoding", "ragged"] + (
        ["nesting"] if kind == "scores" else []
    )
    defect = draw(st.sampled_from(defects))
    suffix = (
        ".parquet"
        if defect in ("date", "header", "value", "nesting") and draw(st.booleans())
        else ".csv"
    )
    row = draw(st.integers(0, len(table.rows) - 1))
    at = draw(st.integers(0, len(table.header)))
    if defect == "date":
        column = table.header.index(draw(st.sampled_from(fmt.date_columns)))
        table.rows[row][column] = draw(st.sampled_from(BAD_DATES))
    elif defect == "header":
        how = draw(st.sampled_from(HEADER_DEFECTS))
        if suffix == ".parquet" and how == "not_utf8":
            how = "control"
        if how == "missing":
            required = [c.name for c in fmt.columns if c.required]
            gone = table.header.index(draw(st.sampled_from(required)))
            table.header.pop(gone)
            for r in table.rows:
                r.pop(gone)
        else:
            name = {
                "empty": "", "blank": "  ", "nul": "a\0b", "control": "a\x07b",
                "escape": "\x1b[2J\x1b[31mred", "duplicate": draw(st.sampled_from(table.header)),
                "reserved": "__row", "long": "n" * draw(st.integers(257, 2000)),
                "not_utf8": "caf\udce9",
            }[how]  # fmt: skip
            add_column(table, name, at)
    elif defect == "value":  # the first column is an id in every format
        table.rows[row][0] = draw(st.sampled_from(["a\0b", "x" * 65, "a\x1bb", ""]))
    elif defect == "encoding":
        how = draw(st.sampled_from([*ENCODINGS, "not_utf8", "nul"]))
        if how == "not_utf8":
            table.rows[row][0] = "M\udcfcller"  # Latin-1 ü
        elif how == "nul":
            table.rows[row][0] = "P\0"
        else:
            return table, f"encoding:{how}", suffix
    elif defect == "ragged":
        size = draw(st.sampled_from([1, 10, 140 * 1024]))
        table.rows[row] += ["y" * size] * draw(st.integers(1, 3))
    elif defect == "nesting":
        depth = draw(st.integers(33, 4000))
        opener = draw(st.sampled_from(["[", '{"a": ']))
        closer = "]" if opener == "[" else "}"
        inner = opener * depth + ("1" if opener != "[" else "") + closer * depth
        table.rows[row][table.header.index("explanation")] = (
            '{"inputs": ["x"], "method": "m", "x": ' + inner + "}"
        )
    return table, defect, suffix


def write_table(folder: Path, kind: str, table: Table, defect: str, suffix: str, eol: str) -> Path:
    path = folder / f"{kind}{suffix}"
    if suffix == ".parquet":
        names = [n.replace("\udce9", "é") for n in table.header]
        columns = [pa.array([r[i] if i < len(r) else None for r in table.rows], pa.string())
                   for i in range(len(names))]  # fmt: skip
        pq.write_table(pa.Table.from_arrays(columns, names=names), path)
        return path
    data = csv_bytes(table.header, table.rows, eol)
    if defect.startswith("encoding:"):
        data = data.decode("utf-8").encode(defect.split(":", 1)[1])
    path.write_bytes(data)
    return path


# --- hostile YAML documents -----------------------------------------------------------------

YAML_DEFECTS = ["date", "nesting", "encoding", "aliases", "duplicate", "size", "number",
                "unhashable", "control"]  # fmt: skip


@st.composite
def hostile_yaml(draw: st.DrawFn, base: str) -> tuple[bytes, str]:
    text = base
    defect = draw(st.sampled_from(YAML_DEFECTS))
    date = draw(st.sampled_from(["0000-01-01", "2026-02-30", "2026-13-01", "2026-00-01"]))
    if defect == "date":
        text += f"since: {date}\n" if "valid_from" not in text else ""
        text = text.replace("valid_from: 2026-01-01", f"valid_from: {date}")
    elif defect == "nesting":
        depth = draw(st.integers(33, 5000))
        if draw(st.booleans()):
            text += "x: " + "[" * depth + "]" * depth + "\n"
        else:
            depth = min(depth, 600)
            text += "x:" + "".join("\n" + "  " * (i + 1) + "-" for i in range(depth)) + "\n"
    elif defect == "aliases":
        levels = draw(st.integers(2, 9))
        text += "a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, levels)
        )
    elif defect == "duplicate":
        text += text.splitlines()[0] + "\n"
    elif defect == "size":
        text += "# " + "x" * ((1 << 20) + 10) + "\n"
    elif defect == "number":
        text += "x: " + "9" * draw(st.integers(4301, 20000)) + "\n"
    elif defect == "unhashable":
        text += "? [a, b]\n: 1\n"
    elif defect == "control":
        text += "x: a" + draw(st.sampled_from(["\0", "\x07", "\x1b"])) + "b\n"
    eol = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = text.replace("\n", eol)
    if defect == "encoding":
        how = draw(st.sampled_from([*ENCODINGS, "latin-1"]))
        return (text + "# café" + eol).encode(how), defect
    return text.encode("utf-8"), defect


# --- the commands ---------------------------------------------------------------------------


def csv_commands(world: World, kind: str, path: Path, out: Path) -> list[list[str]]:
    good = world.root / "good"
    db_args = ["--database", world.url, "--key", str(world.key)]
    run = ["run", "--cases", str(good / "cases.csv"), "--register",
           f"dvla={good / 'register.csv'}", "--agreements", str(good / "agreements"),
           "--out", str(out), "--as-of", AS_OF, *db_args]  # fmt: skip
    commands = [["validate", kind, str(path)]]
    if kind == "cases":
        commands.append([*run[:2], str(path), *run[3:]])
    elif kind == "register":
        commands.append([*run[:4], f"dvla={path}", *run[5:]])
    elif kind == "events":
        commands.append(["events", str(path), "--out", str(out), "--as-of", AS_OF, *db_args])
    elif kind == "actions":
        commands.append(["actions", "dvla", str(path), "--database", world.url])
    elif kind == "scores":
        commands.append(["scores", "load", str(path), "--as-of", AS_OF, "--database", world.url,
                         "--agreements", str(good / "agreements")])  # fmt: skip
    return commands


def yaml_commands(world: World, what: str, path: Path, out: Path) -> list[list[str]]:
    good = world.root / "good"
    if what == "policy":
        return [["policy", "check", str(path)], ["policy", "load", str(path),
                "--database", world.url]]  # fmt: skip
    folder = str(path.parent)
    return [
        ["agreements", "check", folder, "--as-of", AS_OF],
        ["agreements", "load", folder, "--as-of", AS_OF, "--database", world.url],
        ["run", "--cases", str(good / "cases.csv"), "--register", f"dvla={good / 'register.csv'}",
         "--agreements", folder, "--out", str(out), "--as-of", AS_OF, "--database", world.url,
         "--key", str(world.key)],
    ]  # fmt: skip


SUMMARY = ("... and ", "not a valid ")


def refused(world: World, argv: list[str], path: Path, out: Path, lists: bool) -> None:
    """The command exits 2 with its refusal naming ``path`` and writes nothing."""
    before = database_dump(world.url), files_beside_inputs(world.root)
    answer = world.run(argv)
    where = f"accord {' '.join(a[:80] for a in argv)}: {answer}"
    assert answer["code"] == 2, where
    assert answer["seconds"] < CALL_SECONDS and answer["peak_kb"] * 1024 < PEAK_RSS, where
    err: str = answer["err"]
    for word in ("Traceback", "internal error", "panicked", "RUST_BACKTRACE", "\x1b"):
        assert word not in err, where
    lines = err.splitlines()
    assert lines and (len(lines) <= 22 if lists else len(lines) == 1), where
    for line in lines:
        assert str(path) in line or line.startswith(SUMMARY), where
    assert not out.exists(), where
    assert (database_dump(world.url), files_beside_inputs(world.root)) == before, where


COMMON = settings(
    max_examples=EXAMPLES,
    deadline=None,
    # No shrinking: a failing call can cost CALL_SECONDS each time; the draws name the defect.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("kind", KINDS)
@settings(COMMON, max_examples=EXAMPLES // len(KINDS))
@given(data=st.data())
def test_every_command_refuses_a_hostile_interchange_file(
    world: World, kind: str, data: st.DataObject
) -> None:
    table, defect, suffix = data.draw(hostile_table(kind), "table")
    eol = data.draw(st.sampled_from(["\n", "\r\n", "\r"]), "line ending")
    folder = world.folder()
    path = write_table(folder, kind, table, defect, suffix, eol)
    event(f"{defect} {suffix} {eol!r} extra={len(table.header) - len(HEADERS[kind]) > 1}")
    out = folder / "out"
    for argv in csv_commands(world, kind, path, out):
        refused(world, argv, path, out, lists=argv[0] == "validate")


@pytest.mark.parametrize("what", ["agreement", "policy"])
@settings(COMMON, max_examples=EXAMPLES // 2 - 7)
@given(data=st.data())
def test_every_command_refuses_a_hostile_agreement_or_policy(
    world: World, what: str, data: st.DataObject
) -> None:
    content, defect = data.draw(hostile_yaml(AGREEMENT if what == "agreement" else POLICY), "yaml")
    event(f"{what} {defect}")
    folder = world.folder()
    (folder / "agreements").mkdir()
    path = folder / ("agreements/a.yaml" if what == "agreement" else "policy.yaml")
    path.write_bytes(content)
    out = folder / "out"
    for argv in yaml_commands(world, what, path, out):
        refused(world, argv, path, out, lists=argv[0] in ("agreements", "policy"))


# --- the API --------------------------------------------------------------------------------


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@st.composite
def hostile_body(draw: st.DrawFn, state: WebState) -> tuple[str, str, bytes]:
    """(user, endpoint, body) with one defect."""
    endpoint = draw(st.sampled_from(["/api/v1/events", "/api/v1/actions", "/api/v1/me/disputes"]))
    if endpoint == "/api/v1/events":
        user, field = "case1", "event_date"
        record: dict[str, Any] = {"event_id": "EV-H", "person_id": "P-1",
                                  "event_type": "dispute_opened",
                                  "event_date": "2026-01-02"}  # fmt: skip
    elif endpoint == "/api/v1/actions":
        user, field = "dvla1", "action_date"
        record = {"disclosure_id": state.disclosure_of["P-1"], "action": "revoked",
                  "action_date": "2026-01-03"}  # fmt: skip
    else:
        user, field = "subj1", "detail"
        record = {"detail": "wrong person"}
    defect = draw(st.sampled_from(["date", "nul", "nesting", "long", "not_utf8", "type"]))
    key = draw(st.sampled_from(sorted(record)))
    if defect == "date":
        record[field if field != "detail" else key] = draw(st.sampled_from(BAD_DATES))
        if endpoint.endswith("disputes"):
            record["detail"] = "x\0"  # disputes carry no date: make it a NUL instead
    elif defect == "nul":
        record[key] = "a\0b"
    elif defect == "long":
        record[key] = "x" * draw(st.sampled_from([70_000, 2_000_000]))
    elif defect == "type":
        record[key] = draw(st.sampled_from([7, [], {}, True]))  # never a string
    if endpoint.endswith("disputes"):
        body: Any = record
    else:
        body = {endpoint.rsplit("/", 1)[1]: [record]}
    text = json.dumps(body)
    if defect == "nesting":
        depth = draw(st.integers(33, 100_000))
        text = text.replace(json.dumps(record[key]), nested(depth), 1)
    if defect == "not_utf8":
        return user, endpoint, text.encode("utf-8")[:-3] + b"\xff\xfe}"
    return user, endpoint, text.encode("utf-8")


def counts(url: str) -> tuple[int, ...]:
    with db.connect(url) as conn:
        return tuple(
            int(conn.scalar(sql_select(func.count()).select_from(m)) or 0)
            for m in (Event, RecipientAction, Recall, Freeze)
        )


def test_the_api_refuses_hostile_bodies(web: WebState) -> None:
    client = TestClient(create_app(web.url, secret=SECRET), raise_server_exceptions=False)
    before = counts(web.url)

    @settings(COMMON, max_examples=EXAMPLES)
    @given(st.data())
    def each(data: st.DataObject) -> None:
        user, endpoint, body = data.draw(hostile_body(web))
        headers = {**web.bearer(user), "content-type": "application/json"}
        answer = client.post(endpoint, content=body, headers=headers)
        assert 400 <= answer.status_code < 500, (endpoint, body[:200], answer.text[:300])
        assert counts(web.url) == before

    each()
