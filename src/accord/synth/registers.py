"""Recipients' registers: the people they serve, with the noise real registers have.

A register holds some of the source body's people (their true records, sometimes twice)
and, for most of its rows, members of the public: among them namesakes and
near-namesakes of the source body's people, planted to be the false-positive trap of a
bulk check, of people who hold a record there and of people who do not (then the best
candidate is someone else).  Every noise is drawn per record by NumPy and applied by one
DuckDB query; what was applied to each record is kept in the truth (``records.csv``,
column ``noise``), and what a trap record is a trap for in ``planted`` and
``namesake_of``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from accord.errors import AccordError
from accord.synth.mix import KINDS, Mix
from accord.synth.names import FOLD, ORIGINS, PLAIN, STYLES, UPPER, Pools
from accord.synth.population import (
    Identities,
    People,
    draw_postcodes,
    draw_public,
    id_width,
    mononym_shares,
    postcode_columns,
    postcode_sql,
    public_dob_density,
    written_names,
)
from accord.synth.writer import (
    NO_DATE,
    YEAR,
    Days,
    codes,
    copy_csv,
    dates,
    day,
    day_month_swapped,
    uniform_int,
    years,
)

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

WINDRUSH = KINDS.index("windrush")


@dataclass(frozen=True)
class Profile:
    """How one register records people.

    Rates are per record and scaled by the scenario's ``noise``; ``upper``,
    ``initial_middle`` and ``fold`` are the register's own conventions and are not.
    """

    prefix: str
    translit: float  # another spelling of the family or first given name
    drop_middle: float  # of records whose person has a middle name
    swap: float  # family and given names exchanged (four times as often for family-first names)
    typo: float  # one letter substituted, deleted, transposed or doubled
    dob_missing: float
    dob_swap: float  # day and month exchanged, where that makes another valid date
    moved: float  # an earlier or other postcode
    postcode_missing: float
    since_missing: float
    duplicate: float  # the same person holds a second record
    upper: float  # share of records in upper case
    initial_middle: float  # middle name kept only as an initial
    fold: float  # accents stripped, apostrophes dropped, hyphens as spaces
    min_age: int  # youngest age at which the relationship can begin


PROFILES: dict[str, Profile] = {
    "dvla": Profile(
        "DL",
        translit=0.06,
        drop_middle=0.10,
        swap=0.01,
        typo=0.01,
        dob_missing=0.002,
        dob_swap=0.005,
        moved=0.20,
        postcode_missing=0.01,
        since_missing=0.0,
        duplicate=0.005,
        upper=1.0,
        initial_middle=0.5,
        fold=1.0,
        min_age=17,
    ),
    "hmrc": Profile(
        "HM",
        translit=0.08,
        drop_middle=0.15,
        swap=0.03,
        typo=0.02,
        dob_missing=0.01,
        dob_swap=0.01,
        moved=0.15,
        postcode_missing=0.03,
        since_missing=0.02,
        duplicate=0.01,
        upper=0.0,
        initial_middle=0.0,
        fold=0.0,
        min_age=16,
    ),
    "bank": Profile(
        "AC",
        translit=0.10,
        drop_middle=0.35,
        swap=0.03,
        typo=0.03,
        dob_missing=0.03,
        dob_swap=0.015,
        moved=0.25,
        postcode_missing=0.02,
        since_missing=0.01,
        duplicate=0.03,
        upper=0.2,
        initial_middle=0.1,
        fold=0.05,
        min_age=16,
    ),
}

# How much likelier than an overstayer each kind is to hold a record: people with leave
# work, bank and drive lawfully; Windrush people have done so for decades; people who
# left have often closed what they held.
KIND_HOLDING = {
    "overstayer": 1.0,
    "procedural_refusal": 1.5,
    "appeal_pending": 1.0,
    "windrush": 3.0,
    "departed": 0.6,
    "has_leave": 2.0,
    "overturned": 1.0,
}

WINDRUSH_SINCE_FROM = day(dt.date(1975, 1, 1))
WINDRUSH_SINCE_TO = day(dt.date(2000, 12, 31))

# Key packing for namesake detection: three 13-bit name-text ids and a date offset.
_TEXT_BITS = 13
_ONE_NAME = (1 << _TEXT_BITS) - 1  # in the first given name's place: a one-name person
_DOB_OFFSET = 1 << 17
_DOB_BITS = 19


def name_key(pools: Pools, ident: Identities, dob: Days) -> IntArray:
    """One int per identity: equal exactly when family name, given names and date of birth
    are the same text (case aside), a one name equal only to the same one name.
    Adjacent dates give adjacent keys."""
    assert int(pools.text_id.max()) < _ONE_NAME
    tf = pools.text_id[np.where(ident.mononym, ident.s_given1, ident.s_family)]
    tg1 = np.where(ident.mononym, _ONE_NAME, pools.text_id[ident.s_given1])
    tg2 = np.where(ident.s_given2 >= 0, pools.text_id[np.maximum(ident.s_given2, 0)] + 1, 0)
    key = (tf << _TEXT_BITS) | tg1
    key = (key << _TEXT_BITS) | tg2
    return (key << _DOB_BITS) | (dob + _DOB_OFFSET)


class KeyCounts:
    """How many of the source body's people have each name key: sorted distinct keys and
    their counts, looked up with the queries sorted (binary search over sorted needles is
    several times faster than over random ones)."""

    def __init__(self, keys: IntArray) -> None:
        self.keys, counts = np.unique(keys, return_counts=True)
        self.counts = counts.astype(np.int64)

    def of(self, sorted_queries: IntArray) -> IntArray:
        if not len(self.keys):
            return np.zeros(len(sorted_queries), dtype=np.int64)
        i = np.minimum(np.searchsorted(self.keys, sorted_queries), len(self.keys) - 1)
        return np.where(self.keys[i] == sorted_queries, self.counts[i], 0)


PLANTED = ("namesake", "near_namesake")
NAMESAKE_OF = ("holder", "non_holder", "both")


@dataclass
class Segment:
    """Records of one provenance before they are shuffled together."""

    person: IntArray  # index of the source body's person, or -1
    public: IntArray  # public person number, or -1
    ident: Identities
    pc_true: IntArray
    pc_prev: IntArray
    since: Days
    planted: IntArray  # index into PLANTED, or -1


def _concat(parts: list[Segment]) -> Segment:
    def cat(get: str) -> IntArray:
        return np.concatenate([getattr(p, get) for p in parts])

    idents = [p.ident for p in parts]
    ident = Identities(
        **{k: np.concatenate([getattr(i, k) for i in idents]) for k in idents[0].__dict__}
    )
    return Segment(
        cat("person"),
        cat("public"),
        ident,
        cat("pc_true"),
        cat("pc_prev"),
        cat("since"),
        cat("planted"),
    )


def _take(seg: Segment, idx: IntArray) -> Segment:
    return Segment(
        seg.person[idx],
        seg.public[idx],
        seg.ident.take(idx),
        seg.pc_true[idx],
        seg.pc_prev[idx],
        seg.since[idx],
        seg.planted[idx],
    )


def namesake_weights(pools: Pools, people: People, mix: Mix, as_of: int) -> npt.NDArray[np.float64]:
    """How likely each of the source body's people is to have a namesake in a register,
    up to a constant: how common their name is among the public the namesake would be one
    of (their origin's share of the public, times the name's share within the origin's
    pools: family name times first given name, a one name times the origin's share of
    one-name people) times how common their date of birth is among the public (the density
    of the public's ages at that date, and for 1 January the origin's share of dates
    recorded so)."""
    ident = people.ident
    share = pools.token_share
    one = mononym_shares(mix)[ident.origin]
    public = np.array([o.public for o in ORIGINS])
    in_public = (public / public.sum())[ident.origin]
    f_name = in_public * np.where(
        ident.mononym,
        share[ident.given1] * one,
        share[ident.family] * share[ident.given1] * (1.0 - one),
    )
    jan1 = np.array([o.jan1 for o in ORIGINS])[ident.origin]
    d = ident.dob.astype("datetime64[D]")
    new_year = d == d.astype("datetime64[Y]").astype("datetime64[D]")
    f_day = np.where(new_year, jan1 + (1.0 - jan1) / YEAR, (1.0 - jan1) / YEAR)
    weights: npt.NDArray[np.float64] = f_name * f_day * public_dob_density(ident.dob, as_of)
    return weights


def _namesake_of(holders: IntArray, others: IntArray) -> IntArray:
    """Per trap record, whether the people it is a trap for hold a record here: index
    into NAMESAKE_OF (holder, non_holder, both), from how many of them do and do not."""
    return np.where(others == 0, 0, np.where(holders == 0, 1, 2))


@dataclass
class RegisterResult:
    name: str
    rows: int
    holders: BoolArray  # per person of the source body: holds a record here


def build_register(
    con: duckdb.DuckDBPyConnection,
    rng: np.random.Generator,
    name: str,
    people: People,
    first_decision: Days,
    pools: Pools,
    mix: Mix,
    as_of: int,
    register_path: Path,
    truth_path: Path,
    old_on_file: BoolArray,
) -> RegisterResult:
    """Write one register and the truth about its records.

    ``old_on_file`` marks the people whose casework holds an older postcode than their
    current one (a case row carries ``people.pc_old``): a mover's record here may hold it.
    """
    prof = PROFILES[name]
    A = as_of
    n = people.n
    min_age = years(prof.min_age)

    holding = np.array([KIND_HOLDING[k] for k in KINDS])[people.kind] * mix.coverage[name]
    holders = np.flatnonzero(rng.random(n) < np.minimum(holding, 1.0))
    # Namesakes where coincidences happen: common names, heaped birthdays.  Each person
    # gets a Poisson number of them with mean proportional to their weight, the mean
    # over everyone being the mix's rate; holders and non-holders alike.
    weights = namesake_weights(pools, people, mix, A)
    total_weight = float(weights.sum())
    expected = weights * (mix.namesakes[name] * n / total_weight) if total_weight > 0 else weights
    namesake_of = np.repeat(np.arange(n, dtype=np.int64), rng.poisson(expected))
    near_of = np.flatnonzero(rng.random(n) < mix.near_namesakes[name])
    noise = mix.noise

    def rate(x: float) -> float:
        return min(1.0, x * noise)

    dup = rate(prof.duplicate)
    holder_dups = holders[rng.random(len(holders)) < dup]
    planted = len(holders) + len(holder_dups) + len(namesake_of) + len(near_of)
    total = mix.rows_per_register(n)
    remaining = total - planted
    if remaining < 0:
        raise AccordError(
            f"register rows {total:,} are too few: the {name} register needs {planted:,} "
            "for the people it holds and their namesakes; raise --register-rows"
        )
    n_public = int(np.ceil(remaining / (1.0 + dup))) if remaining else 0
    n_public_dups = remaining - n_public

    # The source body's people who hold a record here.
    def holder_segment(idx: IntArray) -> Segment:
        ident = people.ident.take(idx)
        w = people.kind[idx] == WINDRUSH
        on_file = people.arrival[idx] != NO_DATE
        arrived = np.where(on_file, people.arrival[idx], first_decision[idx])
        lo = np.maximum(arrived + 30, ident.dob + min_age)
        since = np.minimum(uniform_int(rng, lo, A - 30), A - 1)
        w_lo = np.maximum(ident.dob + min_age, WINDRUSH_SINCE_FROM)
        w_since = uniform_int(rng, w_lo, np.minimum(WINDRUSH_SINCE_TO, A - years(5)))
        return Segment(
            idx,
            np.full(len(idx), -1),
            ident,
            people.pc_now[idx],
            people.pc_old[idx],
            np.where(w, w_since, since),
            np.full(len(idx), -1),
        )

    next_public = 0

    def public_segment(ident: Identities, planted: int = -1) -> Segment:
        nonlocal next_public
        m = len(ident.dob)
        numbers = np.arange(next_public, next_public + m, dtype=np.int64)
        next_public += m
        lo = np.maximum(ident.dob + min_age, A - years(45))
        since = np.minimum(uniform_int(rng, lo, A - 1), A - 1)
        return Segment(
            np.full(m, -1),
            numbers,
            ident,
            draw_postcodes(rng, m),
            draw_postcodes(rng, m),
            since,
            np.full(m, planted),
        )

    parts = [holder_segment(holders), holder_segment(holder_dups)]
    parts.append(public_segment(people.ident.take(namesake_of), 0))
    near = people.ident.take(near_of)
    near.dob = near.dob + rng.choice([-1, 1], size=len(near_of))
    parts.append(public_segment(near, 1))
    public = public_segment(draw_public(rng, pools, n_public, A, mix))
    parts.append(public)
    parts.append(_take(public, rng.choice(n_public, size=n_public_dups, replace=False)))
    # Shuffled first, so that a record's position says nothing about whose it is; every
    # draw after this is per record, in file order.
    rec = _concat(parts)
    R = len(rec.person)
    rec = _take(rec, rng.permutation(R))

    # Truth computed on the clean identities: namesakes and duplicates, and whether the
    # people a trap record is a trap for hold a record here themselves.
    people_keys = name_key(pools, people.ident, people.ident.dob)
    known = KeyCounts(people_keys)
    known_holders = KeyCounts(people_keys[holders])
    rkeys = name_key(pools, rec.ident, rec.ident.dob)
    by_key = np.argsort(rkeys)
    sorted_keys = rkeys[by_key]

    def counted(counts: KeyCounts, offsets: tuple[int, ...]) -> IntArray:
        out = np.empty(R, dtype=np.int64)
        out[by_key] = sum(counts.of(sorted_keys + o) for o in offsets)
        return out

    own = (rec.person >= 0).astype(np.int64)  # a person's own record has their key
    same = counted(known, (0,)) - own
    adjacent = counted(known, (-1, 1))
    trap = np.where(same > 0, 0, np.where(adjacent > 0, 1, -1))
    # Holders among the people each trap record is a trap for (traps are few: only
    # theirs are looked up).
    traps = np.flatnonzero(trap >= 0)
    trap_keys = rkeys[traps]
    order = np.argsort(trap_keys)
    holders_same = np.empty(len(traps), dtype=np.int64)
    holders_adjacent = np.empty(len(traps), dtype=np.int64)
    holders_same[order] = known_holders.of(trap_keys[order]) - own[traps][order]
    holders_adjacent[order] = known_holders.of(trap_keys[order] - 1) + known_holders.of(
        trap_keys[order] + 1
    )
    exact = trap[traps] == 0
    them = np.where(exact, same[traps], adjacent[traps])
    holding = np.where(exact, holders_same, holders_adjacent)
    namesake_of = np.full(R, -1, dtype=np.int64)
    namesake_of[traps] = _namesake_of(holding.astype(np.int64), (them - holding).astype(np.int64))
    owner = np.where(rec.person >= 0, rec.person, n + rec.public)
    duplicate = np.bincount(owner)[owner] > 1

    # Noise, per record.
    ident = rec.ident
    noise_bits = np.zeros(R, dtype=np.int64)

    def mark(label: str, where: BoolArray) -> None:
        noise_bits[where] |= 1 << NOISE.index(label)

    translit = rng.random(R) < rate(prof.translit)
    on_family = (rng.random(R) < 0.5) & ~ident.mononym  # a one name is a given name here
    count_f = pools.spell_count[ident.family]
    count_g = pools.spell_count[ident.given1]
    eff_f = translit & on_family & (count_f > 1)
    eff_g = translit & ~on_family & (count_g > 1)
    mark("transliteration", eff_f | eff_g)

    def other_spelling(token: IntArray, spelling: IntArray, count: IntArray) -> IntArray:
        start = pools.spell_start[token]
        own = spelling - start
        shift = 1 + np.floor(rng.random(len(token)) * np.maximum(count - 1, 1)).astype(np.int64)
        return start + (own + shift) % np.maximum(count, 1)

    s_family = np.where(
        eff_f, other_spelling(ident.family, ident.s_family, count_f), ident.s_family
    )
    s_given1 = np.where(
        eff_g, other_spelling(ident.given1, ident.s_given1, count_g), ident.s_given1
    )
    # A one-name person's name: in the field the person's records use, in the other
    # field, or in both (a form that demands two names).
    u = rng.random(R)
    one_swapped = ident.mononym & (u < mix.mononym_swapped)
    one_doubled = ident.mononym & ~one_swapped & (u < mix.mononym_swapped + mix.mononym_doubled)
    mark("one_name_swapped", one_swapped)
    mark("one_name_doubled", one_doubled)
    s_family, s_given1, s_given2 = written_names(
        ident.mononym,
        ident.one_as_family ^ one_swapped,
        s_family,
        s_given1,
        ident.s_given2,
        one_doubled,
    )
    has_middle = s_given2 >= 0
    dropped = has_middle & (rng.random(R) < rate(prof.drop_middle))
    initial = has_middle & ~dropped & (rng.random(R) < prof.initial_middle)
    mark("middle_dropped", dropped)
    mark("middle_initial", initial)
    family_first = np.array([o.family_first for o in ORIGINS])[ident.origin]
    swap = rng.random(R) < np.minimum(1.0, rate(prof.swap) * np.where(family_first, 4.0, 1.0))
    mark("names_swapped", swap)
    upper = rng.random(R) < prof.upper
    folded = rng.random(R) < prof.fold
    mark("upper_case", upper)
    mark("ascii_folded", folded)
    style = np.where(upper, UPPER, PLAIN) | np.where(folded, FOLD, PLAIN)
    f_id = np.where(s_family >= 0, s_family * STYLES + style, -1)
    g1_id = np.where(s_given1 >= 0, s_given1 * STYLES + style, -1)
    g2_styled = np.maximum(s_given2, 0) * STYLES + style
    n_styled = len(pools.styled)
    g2_id = np.where(dropped | ~has_middle, -1, np.where(initial, n_styled + g2_styled, g2_styled))

    def length(styled_id: IntArray) -> IntArray:
        return np.where(styled_id >= 0, pools.styled_length[np.maximum(styled_id, 0)], 0)

    length_f = length(f_id)
    length_g = length(g1_id) + np.where(
        g2_id < 0, 0, np.where(initial, 2, 1 + pools.styled_length[g2_styled])
    )
    # A typo: one letter substituted, deleted, transposed or doubled, in the family or the
    # given names; names shorter than three letters are spared.
    on_given = rng.random(R) < 0.5
    typo = (rng.random(R) < rate(prof.typo)) & (np.where(on_given, length_g, length_f) >= 3)
    typo_field = np.where(typo, on_given.astype(np.int64), -1)
    mark("typo", typo)

    dob = ident.dob.copy()
    dob_missing = rng.random(R) < rate(prof.dob_missing)
    mark("dob_missing", dob_missing)
    candidates = np.flatnonzero(~dob_missing & (rng.random(R) < rate(prof.dob_swap)))
    swapped, swappable = day_month_swapped(dob[candidates])
    dob[candidates[swappable]] = swapped[swappable]
    dob_swapped = np.zeros(R, dtype=bool)
    dob_swapped[candidates[swappable]] = True
    mark("dob_day_month_swapped", dob_swapped)

    # An earlier address.  A member of the public's is any other postcode.  One of the
    # source body's people's is their previous one: the older address their casework
    # holds (where it holds one, with the mix's previous_known chance), else one from
    # before the casework knew them.
    moved = rng.random(R) < rate(prof.moved)
    other_pc = np.where(rec.pc_prev != rec.pc_true, rec.pc_prev, draw_postcodes(rng, R))
    theirs = rec.person >= 0
    p = np.maximum(rec.person, 0)
    use_old = theirs & old_on_file[p] & (rng.random(R) < mix.previous_known)
    previous = np.where(use_old, people.pc_old[p], people.pc_earlier[p])
    postcode = np.where(moved, np.where(theirs, previous, other_pc), rec.pc_true)
    moved &= postcode != rec.pc_true
    on_file = theirs & old_on_file[p] & (postcode == people.pc_old[p])
    mark("postcode_moved", moved & ~theirs)
    mark("postcode_previous_known", moved & on_file)
    mark("postcode_previous_unknown", moved & theirs & ~on_file)
    pc_missing = rng.random(R) < rate(prof.postcode_missing)
    mark("postcode_missing", pc_missing)
    since_missing = rng.random(R) < rate(prof.since_missing)
    mark("since_missing", since_missing)

    width = id_width(R)
    ids = people.number[np.maximum(rec.person, 0)]
    table = pa.table(
        {
            "num": np.arange(1, R + 1, dtype=np.int64),
            "pnum": pa.array(ids, mask=rec.person < 0),
            "f": codes(f_id, pools.styled),
            "g1": codes(g1_id, pools.styled_with_initials),
            "g2": codes(g2_id, pools.styled_with_initials),
            "swap": swap,
            "up": upper,
            "typo_field": typo_field,
            "typo_op": rng.integers(0, 4, size=R),
            "typo_u": rng.random(R),
            "typo_c": rng.integers(0, 26, size=R),
            "dob": dates(dob, ~dob_missing),
            **postcode_columns("pc", postcode, ~pc_missing),
            "since": dates(rec.since, ~since_missing),
            "trap": codes(trap, ("namesake", "near_namesake")),
            "planted": codes(rec.planted, PLANTED),
            "namesake_of": codes(namesake_of, NAMESAKE_OF),
            "duplicate": duplicate,
            "noise": noise_codes(noise_bits),
        }
    )
    con.register("reg_src", table)
    con.execute(TYPO_MACROS)
    record_id = "$prefix || lpad(num::VARCHAR, $record_width, '0')"
    numbering = {"prefix": prof.prefix, "record_width": width}
    copy_csv(
        con,
        f"""SELECT {record_id} AS record_id,
            CASE WHEN swap THEN giv ELSE fam END AS family_name,
            CASE WHEN swap THEN fam ELSE giv END AS given_names,
            dob AS date_of_birth, {postcode_sql("pc")} AS postcode, since
        FROM (
            SELECT *,
                CASE WHEN typo_field = 0 THEN synth_typo(f, typo_op, typo_u, typo_c, up)
                     ELSE f END AS fam,
                CASE WHEN typo_field = 1 THEN synth_typo(given, typo_op, typo_u, typo_c, up)
                     ELSE given END AS giv
            FROM (SELECT *, g1 || coalesce(' ' || g2, '') AS given FROM reg_src)
        )""",
        register_path,
        numbering,
    )
    copy_csv(
        con,
        f"""SELECT $register AS register, {record_id} AS record_id,
            'P' || lpad(pnum::VARCHAR, $person_width, '0') AS person_id,
            trap, planted, namesake_of, duplicate, noise
        FROM reg_src""",
        truth_path,
        {**numbering, "register": name, "person_width": id_width(n)},
    )
    con.unregister("reg_src")
    held = np.zeros(n, dtype=bool)
    held[holders] = True
    return RegisterResult(name=name, rows=R, holders=held)


NOISE = (
    "transliteration", "middle_dropped", "middle_initial", "names_swapped", "typo",
    "upper_case", "ascii_folded", "dob_missing", "dob_day_month_swapped", "postcode_moved",
    "postcode_missing", "since_missing", "postcode_previous_known", "postcode_previous_unknown",
    "one_name_swapped", "one_name_doubled",
)  # fmt: skip


def noise_codes(bits: IntArray) -> pa.Array:
    """Noise bits (bit i is NOISE[i]) as labels joined by ";", NULL for none; a label is
    made once per combination that occurs, not per record."""
    present = np.flatnonzero(np.bincount(bits, minlength=1 << len(NOISE)))
    place = np.full(1 << len(NOISE), -1, dtype=np.int64)
    place[present] = np.arange(len(present))
    labels = [";".join(label for i, label in enumerate(NOISE) if c >> i & 1) for c in present]
    return codes(np.where(bits == 0, -1, place[bits]), labels)


# One letter wrong, always a change: substituted (op 0; never by the same letter),
# deleted (1), two different letters transposed (2; a doubled pair is doubled again
# instead) or one doubled (3), at a position drawn per record.
TYPO_MACROS = """
CREATE OR REPLACE TEMP MACRO synth_tp(s, u) AS
    least(floor(u * length(s))::INTEGER, length(s) - 1);
CREATE OR REPLACE TEMP MACRO synth_tq(s, u) AS
    greatest(1, least(floor(u * length(s))::INTEGER, length(s) - 2));
CREATE OR REPLACE TEMP MACRO synth_raw_letter(s, p, c) AS
    CASE WHEN lower(substr(s, p + 1, 1)) = chr((97 + c)::INTEGER)
         THEN chr((97 + (c + 1) % 26)::INTEGER) ELSE chr((97 + c)::INTEGER) END;
CREATE OR REPLACE TEMP MACRO synth_letter(s, p, c, up) AS
    CASE WHEN up OR p = 0 THEN upper(synth_raw_letter(s, p, c))
         ELSE synth_raw_letter(s, p, c) END;
CREATE OR REPLACE TEMP MACRO synth_typo(s, op, u, c, up) AS
    CASE WHEN s IS NULL OR length(s) < 3 THEN s
         WHEN op = 0 THEN substr(s, 1, synth_tp(s, u))
              || synth_letter(s, synth_tp(s, u), c, up) || substr(s, synth_tp(s, u) + 2)
         WHEN op = 1 THEN substr(s, 1, synth_tp(s, u)) || substr(s, synth_tp(s, u) + 2)
         WHEN op = 2 AND substr(s, synth_tq(s, u) + 1, 1) <> substr(s, synth_tq(s, u) + 2, 1)
              THEN substr(s, 1, synth_tq(s, u)) || substr(s, synth_tq(s, u) + 2, 1)
              || substr(s, synth_tq(s, u) + 1, 1) || substr(s, synth_tq(s, u) + 3)
         ELSE substr(s, 1, synth_tp(s, u) + 1) || substr(s, synth_tp(s, u) + 1, 1)
              || substr(s, synth_tp(s, u) + 2)
    END;
"""
