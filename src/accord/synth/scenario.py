"""One synthetic scenario, end to end: people, casework, registers, events, agreements, truth."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from accord import __version__
from accord.errors import AccordError, InvalidInput
from accord.formats.schema import APPEAL_STATUSES, DECISIONS, LEAVE, REFUSAL_REASONS
from accord.synth.agreements import AGREEMENTS, agreement_id, write_agreements
from accord.synth.history import (
    CASEWORK,
    CATEGORIES,
    EVENT_DETAIL_SQL,
    EVENT_TYPES,
    INFORMATION,
    build_events,
    build_history,
    dob_columns,
)
from accord.synth.mix import KINDS, REGISTERS, Mix
from accord.synth.names import ORIGINS, compile_pools
from accord.synth.population import (
    FIRST_1973,
    NATIONALITIES,
    QUALITY_FAULTS,
    draw_people,
    id_width,
    postcode_columns,
    postcode_sql,
)
from accord.synth.registers import build_register
from accord.synth.writer import NO_DATE, codes, connect, copy_csv, dates, day

EARLIEST_AS_OF = dt.date(2000, 1, 1)
LATEST_AS_OF = dt.date(2199, 12, 31)
MAX_PEOPLE = 20_000_000
MAX_REGISTER_ROWS = 100_000_000

# Streams of randomness, one per part, so that changing one part's size leaves the others.
STREAMS = ("people", "history", "dob", "events", *REGISTERS)


@dataclass(frozen=True)
class Scenario:
    """Where a scenario's files are and how many rows each holds (data rows, no header)."""

    out: Path
    people: int
    seed: int
    as_of: dt.date
    mix: Mix
    files: Mapping[str, str] = field(default_factory=dict)  # name -> path relative to out
    rows: Mapping[str, int] = field(default_factory=dict)
    # Seconds per phase of the run that wrote it (not saved: it differs run to run).
    timings: Mapping[str, float] = field(default_factory=dict, compare=False)

    def path(self, name: str) -> Path:
        return self.out / self.files[name]

    @property
    def cases(self) -> Path:
        return self.path("cases")

    @property
    def events(self) -> Path:
        return self.path("events")

    @property
    def registers(self) -> dict[str, Path]:
        return {r: self.path(r) for r in REGISTERS}

    @property
    def agreements(self) -> Path:
        return self.out / "agreements"

    @property
    def truth_people(self) -> Path:
        return self.path("truth/people")

    @property
    def truth_records(self) -> Path:
        return self.path("truth/records")

    def to_json(self) -> dict[str, Any]:
        return {
            "people": self.people,
            "seed": self.seed,
            "as_of": self.as_of.isoformat(),
            "mix": self.mix.to_dict(),
            "files": dict(self.files),
            "rows": dict(self.rows),
            "generator": f"accord {__version__}",
        }

    @classmethod
    def load(cls, out: Path) -> Scenario:
        """The scenario described by ``out/scenario.json``."""
        path = out / "scenario.json"
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                out=out,
                people=int(doc["people"]),
                seed=int(doc["seed"]),
                as_of=dt.date.fromisoformat(doc["as_of"]),
                mix=Mix.from_dict(doc["mix"]),
                files=dict(doc["files"]),
                rows={k: int(v) for k, v in doc.get("rows", {}).items()},
            )
        except FileNotFoundError:
            raise AccordError(
                f"{path}: no such file; is {out} a scenario made by accord synth?"
            ) from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise AccordError(f"{path}: not a scenario description ({exc})") from exc


def _check(out: Path, people: int, seed: int, as_of: dt.date, mix: Mix) -> None:
    if people < 1:
        raise InvalidInput("people", f"{people}: a scenario needs at least 1 person")
    if people > MAX_PEOPLE:
        raise InvalidInput("people", f"{people:,} is more than the {MAX_PEOPLE:,} supported")
    if seed < 0:
        raise InvalidInput("seed", f"{seed}: the seed must be 0 or more")
    if not (EARLIEST_AS_OF <= as_of <= LATEST_AS_OF):
        raise InvalidInput(
            "as_of",
            f"{as_of.isoformat()} is outside {EARLIEST_AS_OF.isoformat()} to "
            f"{LATEST_AS_OF.isoformat()}: histories reach decades back from it",
        )
    rows = mix.rows_per_register(people)
    if rows > MAX_REGISTER_ROWS:
        raise AccordError(
            f"register rows {rows:,} are more than the {MAX_REGISTER_ROWS:,} supported"
        )
    if out.exists() and not out.is_dir():
        raise InvalidInput("out", f"{out}: exists and is not a directory")


def synthesise(
    out: Path, people: int, seed: int, as_of: dt.date, mix: Mix | None = None
) -> Scenario:
    """Write a whole scenario to ``out``; the same arguments give the same bytes."""
    mix = mix or Mix()
    out = Path(out)
    _check(out, people, seed, as_of, mix)
    try:
        return _synthesise(out, people, seed, as_of, mix)
    except OSError as exc:
        raise AccordError(f"cannot write the scenario to {out}: {exc.strerror or exc}") from exc


def _synthesise(out: Path, n: int, seed: int, as_of: dt.date, mix: Mix) -> Scenario:
    (out / "truth").mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[phase] = now - clock
        clock = now

    streams = dict(
        zip(
            STREAMS,
            (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(STREAMS))),
            strict=True,
        )
    )
    A = day(as_of)
    pools = compile_pools()
    people = draw_people(streams["people"], pools, n, mix, A)
    history = build_history(streams["history"], people, mix, A)
    rows = history.rows
    row_dob = dob_columns(streams["dob"], people, rows)
    lap("people")
    counts: dict[str, int] = {}
    files: dict[str, str] = {}

    con = connect()
    try:
        # cases.csv
        person = rows["person"]
        m = len(person)
        hist_rng = streams["history"]
        casework = (rows["decision"] != INFORMATION) & (rows["category"] < 0)
        category = np.where(casework, CASEWORK, rows["category"])
        # One decision row in ten leaves data_category blank: SPEC.md's default applies.
        category = np.where(casework & (hist_rng.random(m) < 0.1), -1, category)
        pc = np.where(rows["postcode_now"] == 1, people.pc_now[person], people.pc_old[person])
        # Some decisions have no postcode; never a person's newest row nor information
        # received, so that where the newest postcode came from stays as the truth says.
        newest = np.zeros(m, dtype=bool)
        _, last_seen = np.unique(person[::-1], return_index=True)
        newest[m - 1 - last_seen] = True
        blank_postcode = (hist_rng.random(m) < 0.02) & ~newest & (rows["decision"] != INFORMATION)
        # Whose casework holds an older postcode than the current one (a register's
        # record of a mover may hold that one).
        older = (rows["postcode_now"] == 0) & ~blank_postcode & (pc != people.pc_now[person])
        old_on_file = np.zeros(n, dtype=bool)
        old_on_file[person[older]] = True
        ident = people.ident
        w_family, w_given1, w_given2 = ident.written()
        table = pa.table(
            {
                "num": np.arange(1, m + 1, dtype=np.int64),
                "pnum": people.number[person],
                "f": codes(w_family[person], pools.spellings),
                "g1": codes(w_given1[person], pools.spellings),
                "g2": codes(w_given2[person], pools.spellings),
                "dob": dates(row_dob, row_dob != NO_DATE),
                "nat": codes(
                    np.where(hist_rng.random(m) < 0.02, -1, people.nationality[person]),
                    NATIONALITIES,
                ),
                **postcode_columns("pc", pc, ~blank_postcode),
                "decision": codes(rows["decision"], DECISIONS),
                "decision_date": dates(rows["date"]),
                "reason": codes(rows["reason"], REFUSAL_REASONS),
                "appeal": codes(rows["appeal"], APPEAL_STATUSES),
                "leave": codes(rows["leave"], LEAVE),
                "expiry": dates(rows["expiry"], rows["expiry"] != -1),
                "arrival": dates(people.arrival[person], people.arrival[person] != NO_DATE),
                "departure": dates(rows["departure"], rows["departure"] != -1),
                "category": codes(category, CATEGORIES),
            }
        )
        con.register("cases_src", table)
        w, pw = id_width(m), id_width(n)
        copy_csv(
            con,
            f"""SELECT 'C' || lpad(num::VARCHAR, $case_width, '0') AS case_id,
                'P' || lpad(pnum::VARCHAR, $person_width, '0') AS person_id,
                f::VARCHAR AS family_name,
                g1::VARCHAR || coalesce(' ' || g2::VARCHAR, '') AS given_names,
                dob AS date_of_birth, nat::VARCHAR AS nationality,
                {postcode_sql("pc")} AS postcode, decision::VARCHAR AS decision,
                decision_date, reason::VARCHAR AS refusal_reason,
                appeal::VARCHAR AS appeal_status, leave::VARCHAR AS leave,
                expiry AS leave_expiry, arrival AS arrival_date, departure AS departure_date,
                category::VARCHAR AS data_category
            FROM cases_src""",
            out / "cases.csv",
            {"case_width": w, "person_width": pw},
        )
        con.unregister("cases_src")
        del table
        files["cases"], counts["cases"] = "cases.csv", m
        lap("cases")

        # events.csv
        ev = build_events(streams["events"], people, A)
        me = len(ev["person"])
        con.register(
            "events_src",
            pa.table(
                {
                    "num": np.arange(1, me + 1, dtype=np.int64),
                    "pnum": people.number[ev["person"]],
                    "etype": codes(ev["type"], EVENT_TYPES),
                    "edate": dates(ev["date"]),
                    "param": ev["param"],
                }
            ),
        )
        copy_csv(
            con,
            f"""SELECT 'E' || lpad(rn::VARCHAR, $event_width, '0') AS event_id,
                'P' || lpad(pnum::VARCHAR, $person_width, '0') AS person_id, event_type,
                edate AS event_date, {EVENT_DETAIL_SQL} AS detail
            FROM (SELECT num AS rn, pnum, etype::VARCHAR AS event_type,
                         edate, param FROM events_src)""",
            out / "events.csv",
            {"event_width": id_width(me), "person_width": pw},
        )
        con.unregister("events_src")
        files["events"], counts["events"] = "events.csv", me
        lap("events")

        # Registers, and the truth about each of their records.
        parts = []
        holds: dict[str, np.ndarray] = {}
        for r in REGISTERS:
            part = out / "truth" / f"records.{r}.csv.part"
            res = build_register(
                con,
                streams[r],
                r,
                people,
                history.first,
                pools,
                mix,
                A,
                out / f"{r}.csv",
                part,
                old_on_file,
            )
            files[r], counts[r] = f"{r}.csv", res.rows
            holds[r] = res.holders
            parts.append(part)
            lap(r)
        records = out / "truth" / "records.csv"
        _concatenate_csv(parts, records)
        counts["truth/records"] = sum(counts[r] for r in REGISTERS)
        files["truth/records"] = "truth/records.csv"

        # Truth about each person.
        held = np.stack([holds[r] for r in REGISTERS], axis=1)
        holds_code = held @ (1 << np.arange(len(REGISTERS)))
        hold_labels = [
            ";".join(r for i, r in enumerate(REGISTERS) if code >> i & 1) or None
            for code in range(1 << len(REGISTERS))
        ]
        order = np.argsort(people.number, kind="stable")
        arrival = people.arrival
        con.register(
            "people_src",
            pa.table(
                {
                    "pnum": people.number[order],
                    "kind": codes(people.kind[order], KINDS),
                    "rightful": (people.kind == KINDS.index("overstayer"))[order],
                    "protected": people.protected[order],
                    "quality": codes(
                        np.where(people.quality == 0, -1, people.quality)[order], QUALITY_FAULTS
                    ),
                    "before_1973": ((arrival != NO_DATE) & (arrival < FIRST_1973))[order],
                    "arrival": dates(arrival[order], arrival[order] != NO_DATE),
                    "dob": dates(ident.dob[order]),
                    "f": codes(w_family[order], pools.spellings),
                    "g1": codes(w_given1[order], pools.spellings),
                    "g2": codes(w_given2[order], pools.spellings),
                    "mononym": ident.mononym[order],
                    "old_on_file": old_on_file[order],
                    "nat": codes(people.nationality[order], NATIONALITIES),
                    **postcode_columns("pc", people.pc_now[order]),
                    "origin": codes(ident.origin[order], [o.key for o in ORIGINS]),
                    "refused": history.refused[order],
                    "holds": pa.array(
                        [hold_labels[c] for c in range(len(hold_labels))], type=pa.string()
                    ).take(pa.array(holds_code[order])),
                }
            ),
        )
        copy_csv(
            con,
            f"""SELECT 'P' || lpad(pnum::VARCHAR, $person_width, '0') AS person_id,
                kind::VARCHAR AS kind,
                rightful AS rightful_target, protected AS protected_address,
                quality::VARCHAR AS quality_fault, before_1973 AS arrived_before_1973,
                arrival AS arrival_date, dob AS date_of_birth, f::VARCHAR AS family_name,
                g1::VARCHAR || coalesce(' ' || g2::VARCHAR, '') AS given_names,
                nat::VARCHAR AS nationality, {postcode_sql("pc")} AS postcode,
                origin::VARCHAR AS origin, refused AS has_refusal, holds AS registers,
                mononym, old_on_file AS previous_postcode_on_file
            FROM people_src""",
            out / "truth" / "people.csv",
            {"person_width": pw},
        )
        con.unregister("people_src")
        files["truth/people"], counts["truth/people"] = "truth/people.csv", n
        lap("truth")
    finally:
        con.close()

    for path in write_agreements(out / "agreements", as_of):
        key = "agreements/" + path.stem
        files[key] = str(path.relative_to(out))
    scenario = Scenario(out, n, seed, as_of, mix, files, counts, timings)
    tmp = out / "scenario.json.part"
    tmp.write_text(json.dumps(scenario.to_json(), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out / "scenario.json")
    return scenario


def _concatenate_csv(parts: list[Path], target: Path) -> None:
    """Join CSV files with the same header into one."""
    tmp = target.with_name(target.name + ".part")
    with tmp.open("wb") as dst:
        for i, part in enumerate(parts):
            with part.open("rb") as src:
                header = src.readline()
                if i == 0:
                    dst.write(header)
                shutil.copyfileobj(src, dst, 16 << 20)
            part.unlink()
    os.replace(tmp, target)


__all__ = ["AGREEMENTS", "Scenario", "agreement_id", "synthesise"]
