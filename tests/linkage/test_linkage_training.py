"""Training's short cuts change no parameter: u from one pass over the random pairs, the EM
sessions' pairs stated as pool-to-register, and the one-edit levels behind their cheap
tests each give exactly what Splink's own way gives."""

from __future__ import annotations

import datetime as dt
import itertools
import random

import duckdb
import pyarrow as pa
import pytest

from accord import formats
from accord.linkage import evaluate as ev
from accord.linkage import model as m
from accord.linkage import u_sampling
from accord.synth import synthesise

AS_OF = dt.date(2026, 1, 15)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[pa.Table, pa.Table]:
    scenario = synthesise(tmp_path_factory.mktemp("training") / "s", 1_500, 3, AS_OF)
    pool = ev.load_scenario_pool(scenario.out)
    return pool, formats.load(scenario.registers["bank"], "register")


def _u_values(pool: pa.Table, register: pa.Table, one_pass: bool) -> list[tuple[str, str, object]]:
    con = m.new_duckdb()
    try:
        m.prepare(con, pool, register, blocking_keys=False)
        linker = m.linker_for(con, m._for_training(m.settings_dict()))
        if one_pass:
            u_sampling.estimate_u(linker, max_pairs=300_000.0, seed=4)
        else:
            linker.training.estimate_u_using_random_sampling(max_pairs=300_000.0, seed=4)
        settings = linker.misc.save_model_to_json()
    finally:
        con.close()
    return [
        (c["output_column_name"], lv.get("label_for_charts"), lv.get("u_probability"))
        for c in settings["comparisons"]
        for lv in c["comparison_levels"]
    ]


def test_u_from_one_pass_is_splinks_u_to_the_last_bit(inputs: tuple[pa.Table, pa.Table]) -> None:
    pool, register = inputs
    splinks = _u_values(pool, register, one_pass=False)
    ours = _u_values(pool, register, one_pass=True)
    assert ours == splinks
    # Something was estimated: every comparison has levels with a u.
    assert sum(1 for *_, u in ours if isinstance(u, float)) >= 20


def _counts(
    probe: dict[int, float], chunk: dict[int, float]
) -> dict[tuple[bool, int], dict[int, float]]:
    """Counts as :func:`u_sampling._level_counts` gives them: ten chunks of ``chunk`` each,
    the probe's pairs (``probe``) being part of chunk 3's."""
    out = {(False, c): dict(chunk) for c in range(1, 11)}
    out[(False, 3)] = {k: v - probe.get(k, 0.0) for k, v in chunk.items()}
    out[(True, 3)] = dict(probe)
    return out


def test_stopping_rule_is_splinks() -> None:
    levels = [0, 1]
    # The probe alone reaches the minimum: its counts are kept, nothing else.
    counts = _counts({0: 150.0, 1: 100.0}, {0: 500.0, 1: 500.0})
    assert u_sampling._splinks_stopping_rule(counts, levels) == {0: 150.0, 1: 100.0}
    # It does not: chunks are added until every level has reached it (three chunks here).
    counts = _counts({0: 60.0, 1: 5.0}, {0: 500.0, 1: 40.0})
    assert u_sampling._splinks_stopping_rule(counts, levels) == {0: 1500.0, 1: 120.0}
    # A level never reaches it: every chunk counts.
    counts = _counts({0: 60.0}, {0: 500.0})
    assert u_sampling._splinks_stopping_rule(counts, levels) == {0: 5000.0, 1: 0.0}


def test_em_pairs_stated_across_the_sides_train_the_same_model(
    inputs: tuple[pa.Table, pa.Table], monkeypatch: pytest.MonkeyPatch
) -> None:
    pool, register = inputs
    across = m.train("bank", pool, register, seed=2)
    monkeypatch.setattr(m, "ACROSS_SIDES", "1 = 1")
    stacked = m.train("bank", pool, register, seed=2)
    assert across.settings == stacked.settings


# --- the cheap tests in front of the one-edit levels -------------------------------------


def _one_edits(word: str, alphabet: str) -> set[str]:
    out = set()
    for i in range(len(word) + 1):
        for ch in alphabet:
            out.add(word[:i] + ch + word[i:])  # inserted
    for i in range(len(word)):
        out.add(word[:i] + word[i + 1 :])  # deleted
        for ch in alphabet:
            out.add(word[:i] + ch + word[i + 1 :])  # changed
        if i + 1 < len(word):
            out.add(word[:i] + word[i + 1] + word[i] + word[i + 2 :])  # neighbours swapped
    return out


def _same_levels(con: duckdb.DuckDBPyConnection, plain: str, pairs: str) -> None:
    guarded = m.GUARDED_SQL[plain]
    differ = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE coalesce({plain}, false)) FROM ({pairs}) "
    ).fetchone()
    mismatched = con.execute(
        f"SELECT * FROM ({pairs}) WHERE coalesce({plain}, false) <> coalesce({guarded}, false) "
        "LIMIT 5"
    ).fetchall()
    assert differ is not None and differ[1] > 0, "no pair within one edit was tried"
    assert mismatched == []


@pytest.mark.parametrize("column", ["fam_c", "giv1", "pc"])
def test_one_edit_test_lets_every_one_edit_pair_through(column: str) -> None:
    rng = random.Random(7)
    words = ["a", "al", "ali", "lee", "anna", "smith", "o", "nguyen", "zoe", "muller", "ab1 2cd"]
    words += ["müller", "ñandú", "łódź", "zoë", "мельник"]
    words += [
        "".join(rng.choice("abcdefghij") for _ in range(rng.randint(1, 9))) for _ in range(40)
    ]
    alphabet = "abé1 z"
    rows = [(w, v) for w in words for v in _one_edits(w, alphabet)]
    rows += [(a, b) for a, b in itertools.product(words, repeat=2)]
    con = duckdb.connect()
    con.register(
        "pairs",
        pa.table({f"{column}_l": [a for a, _ in rows], f"{column}_r": [b for _, b in rows]}),
    )
    _same_levels(con, f"damerau_levenshtein({column}_l, {column}_r) <= 1", "SELECT * FROM pairs")


def test_date_slip_test_lets_every_one_slip_pair_through() -> None:
    rng = random.Random(11)
    days = [dt.date(1900, 1, 1) + dt.timedelta(days=rng.randrange(0, 45_000)) for _ in range(300)]
    days += [dt.date(1999, 12, 31), dt.date(2000, 1, 1), dt.date(1989, 10, 1), dt.date(1998, 1, 9)]
    rows: list[tuple[dt.date, dt.date]] = []
    for d in days:
        s = d.strftime("%Y%m%d")
        for v in _one_edits(s, "0123456789"):
            if len(v) != 8:
                continue
            try:
                rows.append((d, dt.datetime.strptime(v, "%Y%m%d").date()))
            except ValueError:
                continue
    rows += [(a, b) for a in days[:80] for b in days[:80]]
    con = duckdb.connect()
    con.register("dates", pa.table({"dob_l": [a for a, _ in rows], "dob_r": [b for _, b in rows]}))
    pairs = (
        "SELECT dob_l, dob_r, strftime(dob_l, '%Y%m%d') AS dob_s_l, "
        "strftime(dob_r, '%Y%m%d') AS dob_s_r FROM dates"
    )
    _same_levels(con, "damerau_levenshtein(dob_s_l, dob_s_r) <= 1", pairs)


def test_the_stored_model_keeps_the_plain_conditions() -> None:
    settings = m.settings_dict()
    conditions = {
        lv["sql_condition"] for c in settings["comparisons"] for lv in c["comparison_levels"]
    }
    assert not conditions & set(m.PLAIN_SQL), "a guarded condition would be stored"
    assert set(m.GUARDED_SQL) <= conditions, "a guard names a condition no level has"


# --- a large register is trained on a random sample of its records ------------------------


def test_a_register_past_the_limit_is_trained_on_a_seeded_sample(
    inputs: tuple[pa.Table, pa.Table], monkeypatch: pytest.MonkeyPatch
) -> None:
    pool, register = inputs
    assert m.training_sample(register, 1) is register  # within the limit: every record
    limit = register.num_rows // 2
    monkeypatch.setattr(m, "TRAINING_MAX_REGISTER_ROWS", limit)
    sample = m.training_sample(register, 1)
    ids = register.column("record_id").to_pylist()
    drawn = sample.column("record_id").to_pylist()
    assert len(drawn) == limit == len(set(drawn))
    assert drawn == [i for i in ids if i in set(drawn)]  # in the register's order
    assert m.training_sample(register, 1).equals(sample)  # the same seed, the same records
    assert m.training_sample(register, 2).column("record_id").to_pylist() != drawn
    first = m.train("bank", pool, register, seed=1)
    again = m.train("bank", pool, register, seed=1)
    assert first.training_rows == pool.num_rows + limit
    assert first.settings == again.settings
