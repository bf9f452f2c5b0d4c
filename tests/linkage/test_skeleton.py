"""The consonant skeleton DuckDB computes, against the rule it implements written in Python."""

from __future__ import annotations

import itertools
import random
import re

import duckdb
import pyarrow as pa

from accord.linkage import features


def skeleton_by_hand(name: str) -> str | None:
    """No spaces, ``ph`` as ``f``, ``q``/``c``/``z`` as ``k``/``k``/``s``, no vowels, ``w``
    or ``y``, and each run of a letter kept once."""
    out = name.replace(" ", "").replace("ph", "f").translate(str.maketrans("qcz", "kks"))
    out = re.sub("[aeiouyw]", "", out)
    out = "".join(letter for letter, _ in itertools.groupby(out))
    return out or None


def test_the_skeleton_collapses_runs_of_every_letter_as_the_rule_says() -> None:
    letters = features.SKELETON_LETTERS
    names = [letter * n for letter in letters for n in (1, 2, 5)]
    names += ["".join(letter * 2 for letter in letters), letters + letters[::-1]]
    names += ["mohammed", "muhammad", "phillipps", "zzsscc", "abba", "aeiou", "", "  "]
    rng = random.Random(5)
    alphabet = letters + "aeiouywqcz " + "ph"
    names += ["".join(rng.choices(alphabet, k=rng.randint(1, 14))) for _ in range(3000)]
    con = duckdb.connect()
    con.register("names", pa.table({"raw": pa.array(names, pa.string())}))
    got = con.sql(f"SELECT raw, {features.skeleton('raw')} FROM names").fetchall()
    assert [sk for _, sk in got] == [skeleton_by_hand(raw) for raw, _ in got]
