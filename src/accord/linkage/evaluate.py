"""How well linkage does against a synthetic scenario's ground truth.

For each threshold: precision, recall and F1 of the pairs at or above it; for the
automatic band (at or above ``disclose_at`` and not ambiguous): the same, which is
what decides whether a wrong person is ever acted on automatically; and the traps the
scenario planted (members of the public with a pool member's name and date of birth,
or a date one day off): how many looked like a match, how many were held for review,
and how many went through automatically (the number that must be zero).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from accord import formats
from accord.errors import AccordError, InvalidInput
from accord.linkage.ambiguity import ambiguity_flags
from accord.synth.writer import csv_view

THRESHOLDS = (0.5, 0.8, 0.9, 0.95, 0.99, 0.999)
PROTECTED_CATEGORIES = ("health", "education", "victim_or_witness")


@dataclass(frozen=True)
class Quality:
    threshold: float
    predicted: int
    correct: int
    possible: int

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.possible if self.possible else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True)
class Traps:
    planted: int  # trap records in the register
    candidates: int  # ... that scored at or above review_from for someone
    held: int  # ... of those, never automatic (caught)
    automatic: int  # ... matched automatically to someone (must be 0)


@dataclass
class Evaluation:
    register: str
    pairs: int
    by_threshold: list[Quality] = field(default_factory=list)
    automatic: Quality | None = None
    matched: Quality | None = None  # automatic or held for review: what a person sees
    # The model's own estimate of how many automatic matches are the wrong person: the
    # sum of their wrong_person chances (what the observed count is held to).
    expected_wrong: float = 0.0
    traps: Traps | None = None
    wrong_automatic: list[tuple[str, str]] = field(default_factory=list)


def scenario_pool(cases: pa.Table, protected: tuple[str, ...] = PROTECTED_CATEGORIES) -> pa.Table:
    """One row per person of a cases table: each identity field's latest value from a row
    whose data category is not protected (what the firewall lets matching use)."""
    con = duckdb.connect(":memory:")
    try:
        con.register("cases", cases)
        open_rows = "NOT list_contains($protected, coalesce(data_category, 'immigration_casework'))"
        fields = ("family_name", "given_names", "date_of_birth", "postcode")
        picks = ", ".join(
            f"arg_max({f}, (decision_date, case_id)) FILTER (WHERE {open_rows} "
            f"AND {f} IS NOT NULL) AS {f}"
            for f in fields
        )
        # Every address the casework holds, as accord run matches on (docs/linkage.md).
        picks += (
            f", list(DISTINCT postcode ORDER BY postcode) FILTER (WHERE {open_rows} "
            "AND postcode IS NOT NULL) AS postcodes"
            f", min(arrival_date) FILTER (WHERE {open_rows}) AS arrival_date"
        )
        table: pa.Table = con.sql(
            f"SELECT person_id, {picks} FROM cases GROUP BY person_id ORDER BY person_id",
            params={"protected": list(protected)},
        ).to_arrow_table()
    finally:
        con.close()
    return table


def read_truth(path: Path, register: str) -> pa.Table:
    """truth/records.csv rows for one register: record_id, person_id, trap."""
    con = duckdb.connect(":memory:")
    try:
        csv_view(con, path, "truth")
        table: pa.Table = con.sql(
            "SELECT record_id, nullif(person_id, '') AS person_id, nullif(trap, '') AS trap "
            "FROM truth WHERE register = $register",
            params={"register": register},
        ).to_arrow_table()
    except duckdb.Error as exc:
        raise AccordError(f"{path}: cannot be read as the truth ({exc})") from exc
    finally:
        con.close()
    if table.num_rows == 0:
        raise AccordError(f"{path}: holds no records of register {register}")
    return table


def evaluate(
    register: str,
    candidates: pa.Table,
    truth: pa.Table,
    pool: pa.Table,
    *,
    thresholds: tuple[float, ...] = THRESHOLDS,
    disclose_at: float = 0.999,
    review_from: float = 0.9,
    ambiguity_bits: float = 10.0,
    ambiguity_margin: float | None = None,
    max_wrong_person: float | None = None,
) -> Evaluation:
    """Score ``candidates`` (from :func:`link`) against ``truth`` for the people in ``pool``."""
    flags = ambiguity_flags(
        candidates, disclose_at=disclose_at, review_from=review_from,
        ambiguity_bits=ambiguity_bits, ambiguity_margin=ambiguity_margin,
        max_wrong_person=max_wrong_person,
    )  # fmt: skip
    con = duckdb.connect(":memory:")
    try:
        con.register("cand", candidates)
        con.register("flags", flags)
        con.register("truth", truth)
        con.register("pool", pool.select(["person_id"]))
        con.execute(
            """CREATE TABLE scored AS
            SELECT c.person_id, c.record_id, c.match_probability,
                   t.person_id IS NOT DISTINCT FROM c.person_id AS correct,
                   f.decision = 'automatic' AS automatic, f.decision <> 'no_match' AS matched,
                   t.trap
            FROM cand c
            JOIN flags f USING (person_id, record_id)
            LEFT JOIN truth t USING (record_id)"""
        )
        possible_row = con.execute(
            "SELECT count(*) FROM truth WHERE person_id IN (SELECT person_id FROM pool)"
        ).fetchall()
        possible = int(possible_row[0][0])
        result = Evaluation(register=register, pairs=candidates.num_rows)
        for t in thresholds:
            row = con.execute(
                "SELECT count(*), count(*) FILTER (WHERE correct) FROM scored "
                "WHERE match_probability >= ?",
                [t],
            ).fetchall()[0]
            result.by_threshold.append(Quality(t, int(row[0]), int(row[1]), possible))
        row = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE correct) FROM scored WHERE automatic"
        ).fetchall()[0]
        result.automatic = Quality(disclose_at, int(row[0]), int(row[1]), possible)
        row = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE correct) FROM scored WHERE matched"
        ).fetchall()[0]
        result.matched = Quality(review_from, int(row[0]), int(row[1]), possible)
        if "wrong_person" in candidates.column_names:
            found = con.execute(
                "SELECT coalesce(sum(c.wrong_person), 0) FROM cand c "
                "JOIN flags f USING (person_id, record_id) WHERE f.decision = 'automatic'"
            ).fetchall()
            result.expected_wrong = float(found[0][0])
        trap_row = con.execute(
            """SELECT
                (SELECT count(*) FROM truth WHERE trap IS NOT NULL),
                count(DISTINCT record_id) FILTER (WHERE matched),
                count(DISTINCT record_id) FILTER (WHERE automatic)
            FROM scored WHERE trap IS NOT NULL AND NOT correct"""
        ).fetchall()[0]
        candidates_n, automatic_n = int(trap_row[1]), int(trap_row[2])
        result.traps = Traps(int(trap_row[0]), candidates_n, candidates_n - automatic_n,
                             automatic_n)  # fmt: skip
        result.wrong_automatic = [
            (str(a), str(b))
            for a, b in con.execute(
                "SELECT person_id, record_id FROM scored WHERE automatic AND NOT correct "
                "ORDER BY person_id, record_id LIMIT 20"
            ).fetchall()
        ]
    finally:
        con.close()
    return result


def load_scenario_pool(scenario: Path) -> pa.Table:
    """The pool for evaluating against a scenario: every person of its cases file."""
    return scenario_pool(formats.load(scenario / "cases.csv", "cases"))


@dataclass
class ScenarioRegister:
    name: str
    register: Path
    truth: Path


def scenario_registers(scenario: Path, only: list[str] | None = None) -> list[ScenarioRegister]:
    """The registers of a scenario written by ``accord synth`` (all, or those named)."""
    from accord.synth import Scenario

    if not scenario.is_dir():
        raise InvalidInput("scenario", f"{scenario}: no such directory")
    found = Scenario.load(scenario)
    registers = found.registers
    names = only or list(registers)
    unknown = [n for n in names if n not in registers]
    if unknown:
        raise AccordError(
            f"register {unknown[0]!r} is not in scenario {scenario}: it has {', '.join(registers)}"
        )
    return [ScenarioRegister(n, registers[n], found.truth_records) for n in names]
