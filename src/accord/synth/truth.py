"""Scoring disclosures against a scenario's ground truth, and the naive baseline.

A disclosure is *rightful* only when the register record truly belongs to the person it
names AND that person is a rightful target (refused, no leave, still here: kind
``overstayer``).  Everything else is *wrongful*: either the record is someone else's
(``wrong_person``: a namesake, a near-namesake, a stranger) or it is theirs but they
should never have been in the pool (``not_target``: a procedural refusal, a pending
appeal, a Windrush citizen, someone who left, holds leave, or whose refusal is overturned).

Later capabilities measure themselves with :func:`score`; :func:`naive_disclosures` is
the process the inspectorate found wanting, as a baseline to beat.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

from accord.errors import AccordError
from accord.synth.mix import KINDS, REGISTERS
from accord.synth.writer import connect, csv_view


class _Counted:
    """Rightful and wrongful disclosures, and what follows from the two."""

    rightful: int
    wrongful: int

    @property
    def total(self) -> int:
        return self.rightful + self.wrongful

    @property
    def wrongful_share(self) -> float:
        """Wrongful disclosures as a share of all; 0 when there were none."""
        return self.wrongful / self.total if self.total else 0.0


@dataclass(frozen=True)
class Tally(_Counted):
    rightful: int = 0
    wrongful: int = 0


@dataclass(frozen=True)
class Score(_Counted):
    """How a set of disclosures fares against the truth.

    ``by_kind`` is keyed by the kind of the person named in the disclosure;
    ``by_trap`` counts wrong-person disclosures by the record's trap label
    (``namesake``, ``near_namesake`` or ``none``); ``possible`` is, per register, how many
    records belong to rightful targets (so ``recall`` = rightful found / possible).
    Repeated (register, record_id, person_id) rows count once.
    """

    rightful: int
    wrongful: int
    wrong_person: int
    not_target: int
    by_kind: dict[str, Tally] = field(default_factory=dict)
    by_register: dict[str, Tally] = field(default_factory=dict)
    by_trap: dict[str, int] = field(default_factory=dict)
    possible: dict[str, int] = field(default_factory=dict)

    def recall(self, register: str | None = None) -> float:
        """Rightful disclosures found as a share of those possible (one register or all)."""
        if register is None:
            possible = sum(self.possible.values())
            found = self.rightful
        else:
            possible = self.possible.get(register, 0)
            found = self.by_register.get(register, Tally()).rightful
        return found / possible if possible else 0.0


def _truth(scenario: Path, name: str) -> pa.Table:
    """truth/<name>.csv as an Arrow table of text columns."""
    con = connect()
    try:
        csv_view(con, Path(scenario) / "truth" / f"{name}.csv", name)
        return con.sql(f"SELECT * FROM {name}").to_arrow_table()
    finally:
        con.close()


def people_truth(scenario: Path) -> pa.Table:
    """truth/people.csv as an Arrow table of text columns."""
    return _truth(scenario, "people")


def records_truth(scenario: Path) -> pa.Table:
    """truth/records.csv as an Arrow table of text columns."""
    return _truth(scenario, "records")


def load_truth(con: duckdb.DuckDBPyConnection, scenario: Path) -> None:
    """Temporary tables ``rec`` and ``ppl`` on ``con``: the scenario's truth/records.csv
    and truth/people.csv, every column as text."""
    for name, table in (("records", "rec"), ("people", "ppl")):
        csv_view(con, Path(scenario) / "truth" / f"{name}.csv", f"truth_{name}")
        con.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM truth_{name}")


def _as_arrow(disclosures: pa.Table | pl.DataFrame) -> pa.Table:
    if isinstance(disclosures, pl.DataFrame):
        return disclosures.to_arrow()
    if isinstance(disclosures, pa.Table):
        return disclosures
    raise AccordError(
        f"disclosures must be an Arrow table or a Polars frame, not {type(disclosures).__name__}"
    )


def score(disclosures: pa.Table | pl.DataFrame, scenario: Path) -> Score:
    """Count rightful and wrongful disclosures, overall and by kind, register and trap.

    ``disclosures`` has columns ``record_id``, ``person_id`` and ``register`` or
    ``recipient`` (the register's name: dvla, hmrc, bank).  A disclosure naming a record
    or person the scenario does not hold is an error: it was scored against the wrong
    scenario.
    """
    table = _as_arrow(disclosures)
    names = set(table.column_names)
    reg_col = "register" if "register" in names else "recipient" if "recipient" in names else None
    missing = [c for c in ("record_id", "person_id") if c not in names]
    if reg_col is None:
        missing.insert(0, "register (or recipient)")
    if missing:
        raise AccordError(f"disclosures lack the column(s): {', '.join(missing)}")
    scenario = Path(scenario)
    con = connect()
    try:
        con.register("disc_src", table.select([reg_col, "record_id", "person_id"]))
        con.execute(
            f"""CREATE TEMP TABLE disc AS SELECT DISTINCT
                "{reg_col}"::VARCHAR AS register, record_id::VARCHAR AS record_id,
                person_id::VARCHAR AS person_id FROM disc_src"""
        )
        load_truth(con, scenario)
        con.execute(
            """CREATE TEMP TABLE j AS
            SELECT d.register, d.record_id, d.person_id, r.record_id IS NOT NULL AS known_record,
                   p.person_id IS NOT NULL AS known_person, r.person_id AS true_person,
                   coalesce(r.trap, 'none') AS trap, p.kind,
                   coalesce(p.rightful_target = 'true', false) AS target
            FROM disc d
            LEFT JOIN rec r ON r.register = d.register AND r.record_id = d.record_id
            LEFT JOIN ppl p ON p.person_id = d.person_id"""
        )
        bad = con.execute(
            """SELECT register, record_id, person_id, known_record FROM j
            WHERE NOT known_record OR NOT known_person ORDER BY register, record_id LIMIT 1"""
        ).fetchall()
        if bad:
            reg, rid, pid, known_record = bad[0]
            if not known_record:
                raise AccordError(
                    f"disclosure of record {rid!r} in register {reg!r}: the scenario at "
                    f"{scenario} holds no such record"
                )
            raise AccordError(
                f"disclosure about person {pid!r}: the scenario at {scenario} holds no such person"
            )
        con.execute(
            """CREATE TEMP TABLE judged AS SELECT *,
                true_person IS NOT DISTINCT FROM person_id AS own_record,
                (true_person IS NOT DISTINCT FROM person_id) AND target AS rightful FROM j"""
        )
        overall = con.execute(
            """SELECT count(*) FILTER (WHERE rightful), count(*) FILTER (WHERE NOT rightful),
                      count(*) FILTER (WHERE NOT own_record),
                      count(*) FILTER (WHERE own_record AND NOT target) FROM judged"""
        ).fetchall()[0]

        def tallies(column: str) -> dict[str, Tally]:
            rows = con.execute(
                f"""SELECT {column}, count(*) FILTER (WHERE rightful),
                    count(*) FILTER (WHERE NOT rightful) FROM judged GROUP BY 1 ORDER BY 1"""
            ).fetchall()
            return {str(k): Tally(int(r), int(w)) for k, r, w in rows}

        by_kind = {k: Tally() for k in KINDS} | tallies("kind")
        by_register = {r: Tally() for r in REGISTERS} | tallies("register")
        traps = con.execute(
            "SELECT trap, count(*) FROM judged WHERE NOT own_record GROUP BY 1 ORDER BY 1"
        ).fetchall()
        possible = con.execute(
            """SELECT r.register, count(*) FROM rec r JOIN ppl p ON p.person_id = r.person_id
            WHERE p.rightful_target = 'true' GROUP BY 1 ORDER BY 1"""
        ).fetchall()
    except duckdb.Error as exc:
        raise AccordError(f"cannot score against {scenario}: {exc}") from exc
    finally:
        con.close()
    return Score(
        rightful=int(overall[0]),
        wrongful=int(overall[1]),
        wrong_person=int(overall[2]),
        not_target=int(overall[3]),
        by_kind=by_kind,
        by_register=by_register,
        by_trap={"namesake": 0, "near_namesake": 0, "none": 0} | {str(t): int(c) for t, c in traps},
        possible={r: 0 for r in REGISTERS} | {str(r): int(c) for r, c in possible},
    )


def naive_disclosures(scenario: Path) -> pa.Table:
    """What the process of 2012-2018 would disclose: every person with a refusal on file
    enters the pool, a register record whose family name, given names and date of birth
    equal one of that person's refusal rows (case and surrounding spaces aside) is taken
    as theirs, and everything is shared.  Columns: register, recipient, record_id, person_id.
    """
    scenario = Path(scenario)
    registers = [r for r in REGISTERS if (scenario / f"{r}.csv").is_file()]
    if not registers:
        raise AccordError(f"{scenario}: no register files (dvla.csv, hmrc.csv, bank.csv)")
    # Each register's name is bound as the parameter of the same name ($dvla, ...).
    union = " UNION ALL ".join(
        f"""SELECT ${r} AS register, record_id, upper(trim(family_name)) AS f,
            upper(trim(given_names)) AS g, date_of_birth AS d FROM register_{r}"""
        for r in registers
    )
    con = connect()
    try:
        for r in registers:
            csv_view(con, scenario / f"{r}.csv", f"register_{r}")
        csv_view(con, scenario / "cases.csv", "cases")
        return con.sql(
            f"""WITH pool AS (
                SELECT DISTINCT person_id, upper(trim(family_name)) AS f,
                       upper(trim(given_names)) AS g, date_of_birth AS d
                FROM cases
                WHERE decision = 'refusal' AND date_of_birth IS NOT NULL),
            reg AS ({union})
            SELECT DISTINCT reg.register, reg.register AS recipient, reg.record_id, pool.person_id
            FROM pool JOIN reg ON reg.f = pool.f AND reg.g = pool.g AND reg.d = pool.d
            ORDER BY 1, 3, 4""",
            params={r: r for r in registers},
        ).to_arrow_table()
    finally:
        con.close()
