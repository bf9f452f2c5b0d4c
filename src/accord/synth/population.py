"""The people: who they are (kind, origin, name, date of birth, address), drawn as arrays.

Every array has one element per person, in the order people were drawn; ``number`` is
the shuffled number behind each ``person_id`` so that the id says nothing about kind.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from accord.synth.mix import KINDS, Mix
from accord.synth.names import FAMILY, FEMALE, MALE, ORIGINS, WINDRUSH_ORIGINS, Pools, origin_index
from accord.synth.writer import NO_DATE, YEAR, Days, codes, day, uniform_int, years

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

WINDRUSH = KINDS.index("windrush")
NO_FAULT, NO_DOB, CONFLICTING_DOB = 0, 1, 2
QUALITY_FAULTS = ("", "no_dob", "conflicting_dob")

FIRST_WINDRUSH_ARRIVAL = day(dt.date(1948, 6, 22))
LAST_BEFORE_1973 = day(dt.date(1972, 12, 31))
FIRST_1973 = day(dt.date(1973, 1, 1))

# UK postcode areas; the London and big-city areas are weighted up, as populations are.
# fmt: off
AREAS = (
    "AB", "AL", "B", "BA", "BB", "BD", "BH", "BL", "BN", "BR", "BS", "BT", "CA", "CB", "CF", "CH",
    "CM", "CO", "CR", "CT", "CV", "CW", "DA", "DD", "DE", "DG", "DH", "DL", "DN", "DT", "DY", "E",
    "EC", "EH", "EN", "EX", "FK", "FY", "G", "GL", "GU", "HA", "HD", "HG", "HP", "HR", "HS", "HU",
    "HX", "IG", "IP", "IV", "KA", "KT", "KW", "KY", "L", "LA", "LD", "LE", "LL", "LN", "LS", "LU",
    "M", "ME", "MK", "ML", "N", "NE", "NG", "NN", "NP", "NR", "NW", "OL", "OX", "PA", "PE", "PH",
    "PL", "PO", "PR", "RG", "RH", "RM", "S", "SA", "SE", "SG", "SK", "SL", "SM", "SN", "SO", "SP",
    "SR", "SS", "ST", "SW", "SY", "TA", "TD", "TF", "TN", "TQ", "TR", "TS", "TW", "UB", "W", "WA",
    "WC", "WD", "WF", "WN", "WR", "WS", "WV", "YO", "ZE",
)
BIG = frozenset((
    "B", "BD", "BR", "CF", "CR", "E", "EH", "G", "HA", "IG", "L", "LE", "LS", "M", "N", "NE",
    "NG", "NW", "RM", "S", "SE", "SW", "TW", "UB", "W",
))
# fmt: on
AREA_STEP = 29 * 10 * 400  # postcode keys per area: adding it moves a key to the next area
# Each area repeated by its weight: a uniform draw from this table is a weighted draw.
AREA_TABLE = np.repeat(np.arange(len(AREAS)), [4 if a in BIG else 1 for a in AREAS])
UNIT_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # the letters a postcode's unit uses


def draw_postcodes(rng: np.random.Generator, n: int) -> IntArray:
    """Postcode keys: area, district 1-29, sector 0-9 and two unit letters, packed in one int."""
    area = AREA_TABLE[rng.integers(0, len(AREA_TABLE), size=n)].astype(np.int64)
    rest = rng.integers(0, 29 * 10 * 400, size=n)  # district, sector and unit together
    return area * (29 * 10 * 400) + rest


# Where people move (ONS internal migration: most moves are short, about two in three
# within the same local authority): the share of moves that stay in the same postcode
# district, and that stay in the same area; the rest go anywhere.
MOVE_SAME_DISTRICT = 0.5
MOVE_SAME_AREA = 0.25
DISTRICT_STEP = 10 * 400  # postcode keys per district (sector and unit)


def nearby_postcodes(rng: np.random.Generator, home: IntArray) -> IntArray:
    """Postcode keys for people moving from (or to) ``home``: mostly in the same district,
    some in the same area, the rest anywhere (:data:`MOVE_SAME_DISTRICT`)."""
    n = len(home)
    r = rng.random(n)
    district = (home // DISTRICT_STEP) * DISTRICT_STEP + rng.integers(0, DISTRICT_STEP, size=n)
    area = (home // AREA_STEP) * AREA_STEP + rng.integers(0, AREA_STEP, size=n)
    anywhere = draw_postcodes(rng, n)
    return np.where(
        r < MOVE_SAME_DISTRICT,
        district,
        np.where(r < MOVE_SAME_DISTRICT + MOVE_SAME_AREA, area, anywhere),
    ).astype(np.int64)


OUTWARD = tuple(f"{a}{d + 1}" for a in AREAS for d in range(29))
INWARD = tuple(
    f"{sector}{UNIT_LETTERS[unit // 20]}{UNIT_LETTERS[unit % 20]}"
    for sector in range(10)
    for unit in range(400)
)


def postcode_columns(
    name: str, keys: IntArray, valid: BoolArray | None = None
) -> dict[str, pa.Array]:
    """Postcode keys as two dictionary columns, ``{name}_out`` (``SW12``) and ``{name}_in``
    (``7QX``), NULL where not ``valid``; :func:`postcode_sql` joins them."""
    out = np.where(keys >= 0, keys // 4000, -1)
    inward = np.where(keys >= 0, keys % 4000, -1)
    if valid is not None:
        out = np.where(valid, out, -1)
        inward = np.where(valid, inward, -1)
    return {f"{name}_out": codes(out, OUTWARD), f"{name}_in": codes(inward, INWARD)}


def postcode_sql(name: str) -> str:
    """DuckDB expression for the postcode text of :func:`postcode_columns`, e.g. ``SW12 7QX``."""
    return f"({name}_out::VARCHAR || ' ' || {name}_in::VARCHAR)"


@dataclass
class Identities:
    """Names and dates of birth: spellings (ids into Pools.spellings; -1 for no middle name).

    A person with one name (``mononym``) has it as their first given name (``given1``,
    ``s_given1``; no middle name); ``one_as_family`` says in which field their records
    hold it by default: the family name (as ICAO travel documents put a single name) or
    the given names.  Their ``family`` token is drawn but never written.
    """

    origin: IntArray
    female: BoolArray
    family: IntArray  # token ids
    given1: IntArray
    given2: IntArray  # -1 when none
    s_family: IntArray  # spelling ids
    s_given1: IntArray
    s_given2: IntArray  # -1 when none
    dob: Days
    mononym: BoolArray
    one_as_family: BoolArray

    def written(self) -> tuple[IntArray, IntArray, IntArray]:
        """Spelling ids of family name, first and second given name as the casework
        writes them (-1: empty)."""
        return written_names(
            self.mononym, self.one_as_family, self.s_family, self.s_given1, self.s_given2
        )

    def take(self, idx: IntArray) -> Identities:
        return Identities(**{k: v[idx] for k, v in self.__dict__.items()})


def written_names(
    mononym: BoolArray,
    as_family: BoolArray,
    s_family: IntArray,
    s_given1: IntArray,
    s_given2: IntArray,
    doubled: BoolArray | None = None,
) -> tuple[IntArray, IntArray, IntArray]:
    """Spelling ids written as family name, first and second given name (-1: empty).

    A one-name person's name (``s_given1``) goes in the family field where ``as_family``,
    else in the given names, and in both where ``doubled``.
    """
    both = np.zeros(len(mononym), dtype=bool) if doubled is None else mononym & doubled
    in_family = mononym & (as_family | both)
    in_given = ~mononym | ~as_family | both
    family = np.where(mononym, np.where(in_family, s_given1, -1), s_family)
    given1 = np.where(in_given, s_given1, -1)
    given2 = np.where(mononym, -1, s_given2)
    return family, given1, given2


def _spelling(rng: np.random.Generator, pools: Pools, token: IntArray) -> IntArray:
    """A person's own spelling: the usual one two times in three, else another."""
    n = pools.spell_count[np.maximum(token, 0)]
    other = 1 + np.floor(rng.random(len(token)) * np.maximum(n - 1, 1)).astype(np.int64)
    choice = np.where((rng.random(len(token)) < 0.65) | (n == 1), 0, other)
    return np.where(token >= 0, pools.spell_start[np.maximum(token, 0)] + choice, -1)


def mononym_shares(mix: Mix) -> npt.NDArray[np.float64]:
    """Per origin, the share of its people recorded with one name."""
    return np.array([mix.mononym_share(o.key) for o in ORIGINS], dtype=np.float64)


def draw_identities(
    rng: np.random.Generator,
    pools: Pools,
    origin: IntArray,
    age_years: npt.NDArray[np.float64],
    as_of: int,
    mix: Mix,
) -> Identities:
    n = len(origin)
    female = rng.random(n) < 0.5
    given_part = np.where(female, FEMALE, MALE)
    family = pools.draw(rng, pools.group(origin, FAMILY))
    given_group = pools.group(origin, given_part)
    given1 = pools.draw(rng, given_group)
    given2 = pools.draw(rng, given_group)
    same = given2 == given1
    start = pools.group_start[given_group]
    size = pools.group_size[given_group]
    given2 = np.where(same, start + (given2 - start + 1) % size, given2)
    middle_p = np.array([o.middle for o in ORIGINS])[origin]
    given2 = np.where(rng.random(n) < middle_p, given2, -1)
    dob = as_of - np.floor(age_years * YEAR).astype(np.int64)
    jan1_p = np.array([o.jan1 for o in ORIGINS])[origin]
    jan1 = np.flatnonzero(rng.random(n) < jan1_p)
    year_start = dob[jan1].astype("datetime64[D]").astype("datetime64[Y]").astype("datetime64[D]")
    dob[jan1] = year_start.astype(np.int64)
    mononym = rng.random(n) < mononym_shares(mix)[origin]
    one_as_family = mononym & (rng.random(n) < mix.mononym_as_family)
    given2 = np.where(mononym, -1, given2)
    return Identities(
        origin=origin.astype(np.int64),
        female=female,
        family=family,
        given1=given1,
        given2=given2,
        s_family=_spelling(rng, pools, family),
        s_given1=_spelling(rng, pools, given1),
        s_given2=_spelling(rng, pools, given2),
        dob=dob.astype(np.int64),
        mononym=mononym,
        one_as_family=one_as_family,
    )


@dataclass
class People:
    """The source body's people.  ``pc_old``/``pc_now``: earlier and current postcode keys
    (the casework's older rows carry ``pc_old``); ``pc_earlier``: an address from before
    the casework knew the person, which only a register may still hold."""

    n: int
    number: IntArray  # behind person_id
    kind: IntArray
    ident: Identities
    nationality: IntArray  # index into NATIONALITIES
    arrival: Days  # NO_DATE when not recorded
    pc_old: IntArray
    pc_now: IntArray
    pc_earlier: IntArray
    quality: IntArray
    protected: BoolArray  # latest postcode from a protected source (set by the history)


NATIONALITIES: tuple[str, ...] = tuple(sorted({c for o in ORIGINS for c, _ in o.nationalities}))


def exact_counts(rng: np.random.Generator, n: int, shares: list[float]) -> IntArray:
    """Exactly the largest-remainder counts of each category, in a random order."""
    raw = np.array(shares, dtype=np.float64) * n
    counts = np.floor(raw).astype(np.int64)
    short = n - int(counts.sum())
    if short > 0:
        order = np.argsort(-(raw - counts), kind="stable")
        counts[order[:short]] += 1
    labels = np.repeat(np.arange(len(shares), dtype=np.int64), counts)
    rng.shuffle(labels)
    return labels


def draw_people(rng: np.random.Generator, pools: Pools, n: int, mix: Mix, as_of: int) -> People:
    kind = exact_counts(rng, n, [mix.kinds[k] for k in KINDS])
    windrush = kind == WINDRUSH
    cases_p = np.array([o.cases for o in ORIGINS])
    origin = rng.choice(len(ORIGINS), size=n, p=cases_p / cases_p.sum())
    w_keys = list(WINDRUSH_ORIGINS)
    w_p = np.array([WINDRUSH_ORIGINS[k] for k in w_keys])
    w_origin = np.array([origin_index(k) for k in w_keys])[rng.choice(len(w_keys), n, p=w_p)]
    origin = np.where(windrush, w_origin, origin).astype(np.int64)
    age = 18 + 47 * rng.beta(1.6, 3.2, size=n)
    ident = draw_identities(rng, pools, origin, age, as_of, mix)

    # Windrush: arrived 1948-1972 aged 1 to 25; the arrival is on file.
    w_arrival = uniform_int(rng, FIRST_WINDRUSH_ARRIVAL, LAST_BEFORE_1973, n)
    w_dob = w_arrival - np.floor((1 + 24 * rng.beta(1.2, 2.5, size=n)) * YEAR).astype(np.int64)
    ident.dob = np.where(windrush, w_dob, ident.dob)
    arrival = np.where(windrush, w_arrival, NO_DATE)

    nat = np.empty(n, dtype=np.int64)
    for o, org in enumerate(ORIGINS):
        sel = np.flatnonzero(origin == o)
        if not len(sel):
            continue
        codes_ = [NATIONALITIES.index(c) for c, _ in org.nationalities]
        p = np.array([w for _, w in org.nationalities])
        nat[sel] = np.array(codes_)[rng.choice(len(codes_), size=len(sel), p=p / p.sum())]

    pc_now = draw_postcodes(rng, n)
    moved = rng.random(n) < 0.3
    pc_old = np.where(moved, nearby_postcodes(rng, pc_now), pc_now)
    pc_earlier = nearby_postcodes(rng, pc_old)
    clash = (pc_earlier == pc_now) | (pc_earlier == pc_old)
    pc_earlier = np.where(clash, (pc_earlier + AREA_STEP) % (len(AREAS) * AREA_STEP), pc_earlier)
    quality = np.zeros(n, dtype=np.int64)
    faulty = rng.random(n) < mix.quality_fault
    quality[faulty] = np.where(rng.random(int(faulty.sum())) < 0.5, NO_DOB, CONFLICTING_DOB)
    number = rng.permutation(n).astype(np.int64) + 1
    return People(
        n=n,
        number=number,
        kind=kind,
        ident=ident,
        nationality=nat,
        arrival=arrival.astype(np.int64),
        pc_old=pc_old,
        pc_now=pc_now,
        pc_earlier=pc_earlier,
        quality=quality,
        protected=np.zeros(n, dtype=bool),
    )


PUBLIC_AGE = (17.0, 73.0, 1.4, 2.0)  # youngest, span and Beta(a, b) of the public's ages


def draw_public(rng: np.random.Generator, pools: Pools, n: int, as_of: int, mix: Mix) -> Identities:
    """Members of the public: adults of every age, mostly of British origin."""
    public_p = np.array([o.public for o in ORIGINS])
    origin = rng.choice(len(ORIGINS), size=n, p=public_p / public_p.sum()).astype(np.int64)
    low, span, a, b = PUBLIC_AGE
    age = low + span * rng.beta(a, b, size=n)
    return draw_identities(rng, pools, origin, age, as_of, mix)


def public_dob_density(dob: Days, as_of: int) -> npt.NDArray[np.float64]:
    """How likely a member of the public is to be born on each date, up to a constant:
    the density of the public's ages at that date (zero outside them)."""
    low, span, a, b = PUBLIC_AGE
    x = ((as_of - dob) / YEAR - low) / span
    inside = (x > 0) & (x < 1)
    xc = np.clip(x, 1e-9, 1 - 1e-9)
    return np.where(inside, xc ** (a - 1) * (1 - xc) ** (b - 1), 0.0)


def id_width(n: int) -> int:
    return max(7, len(str(n)))


def years_ago(as_of: int, n: float) -> int:
    return as_of - years(n)
