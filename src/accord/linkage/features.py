"""The values the linkage model compares, derived in one DuckDB query per side.

Names reach Accord in any script and in many spellings: ``Мельник`` in the casework is
``MELNYK`` on a licence, ``O'Brien`` is ``OBRIEN``, ``Nguyễn`` is ``Nguyen``.  Comparing
raw strings would turn every such difference into evidence *against* a match, so both
sides are brought to the same form first: other scripts are transliterated, accents and
punctuation removed, and a consonant skeleton kept for spellings a transliteration still
leaves apart (``mohammed``/``muhammad``/``محمد`` all become ``mhmd``).

The pool and the register get exactly the same columns, because Splink compares like
with like.  Everything here is SQL over whole tables: no Python loop touches a record.

The SQL is written for DuckDB and for Spark (``dialect``, :mod:`accord.linkage.spark`),
and gives the same values on both.  The DuckDB statements are the ones Accord has always
run; Spark has no ``strip_accents``, ``regexp_matches`` or ``list_*`` functions, so its
statements take the Spark forms: the transliteration and the accents stripped in one
``translate()`` over a table made from DuckDB's own ``strip_accents``
(:func:`spark_latin_table`), and ordered windows.
"""

from __future__ import annotations

import functools
from typing import Any, Protocol

import duckdb

DUCKDB = "duckdb"
SPARK = "spark"
DIALECTS = (DUCKDB, SPARK)


class Sql(Protocol):
    """Where the feature SQL runs: a DuckDB connection (:class:`DuckDBSql`) or a Spark
    session (:class:`accord.linkage.spark.SparkSql`)."""

    @property
    def dialect(self) -> str: ...

    def create(self, name: str, sql: str, *, temp: bool = False) -> None:
        """Make (or remake) ``name`` from the query ``sql``, materialised."""

    def drop(self, name: str) -> None:
        """Drop ``name`` if it exists."""

    def columns(self, source: str) -> set[str]:
        """The column names of ``source``."""


class DuckDBSql:
    """:class:`Sql` over a DuckDB connection: tables (``temp``: temporary tables)."""

    dialect = DUCKDB

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def create(self, name: str, sql: str, *, temp: bool = False) -> None:
        self.con.execute(f"CREATE OR REPLACE {'TEMP ' if temp else ''}TABLE {name} AS {sql}")

    def drop(self, name: str) -> None:
        self.con.execute(f"DROP TABLE IF EXISTS {name}")

    def columns(self, source: str) -> set[str]:
        return {c[0] for c in self.con.execute(f"SELECT * FROM {source} LIMIT 0").description or []}


def as_sql(con: duckdb.DuckDBPyConnection | Sql) -> Sql:
    """A DuckDB connection as :class:`Sql`; anything else is one already."""
    return DuckDBSql(con) if isinstance(con, duckdb.DuckDBPyConnection) else con


# Transliteration of the scripts names most often arrive in that accents alone do not
# cover, to the plain Latin letters a recipient's register would hold.  Multi-letter
# outputs come first in no particular order: each source character is distinct.
TRANSLITERATION: dict[str, str] = {
    # Cyrillic (Russian and Ukrainian; lower case, the input is lower-cased first)
    "а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "е": "e", "ё": "e",
    "є": "ye", "ж": "zh", "з": "z", "и": "y", "і": "i", "ї": "yi", "й": "i", "к": "k",
    "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch",
    "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
    # Greek
    "α": "a", "β": "v", "γ": "g", "δ": "d", "ε": "e", "ζ": "z", "η": "i", "θ": "th",
    "ι": "i", "κ": "k", "λ": "l", "μ": "m", "ν": "n", "ξ": "x", "ο": "o", "π": "p",
    "ρ": "r", "σ": "s", "ς": "s", "τ": "t", "υ": "y", "φ": "f", "χ": "ch", "ψ": "ps",
    "ω": "o", "ά": "a", "έ": "e", "ή": "i", "ί": "i", "ό": "o", "ύ": "y", "ώ": "o",
    # Arabic (consonantal: short vowels are not written, the skeleton compares them)
    "ا": "a", "أ": "a", "إ": "i", "آ": "a", "ب": "b", "ت": "t", "ث": "th", "ج": "j",
    "ح": "h", "خ": "kh", "د": "d", "ذ": "dh", "ر": "r", "ز": "z", "س": "s", "ش": "sh",
    "ص": "s", "ض": "d", "ط": "t", "ظ": "z", "ع": "", "غ": "gh", "ف": "f", "ق": "q",
    "ك": "k", "ل": "l", "م": "m", "ن": "n", "ه": "h", "ة": "a", "و": "w", "ي": "y",
    "ى": "a", "ء": "", "ئ": "", "ؤ": "w",
    # Latin letters that are not a base letter plus an accent
    "ø": "o", "ß": "ss", "ł": "l", "æ": "ae", "œ": "oe", "đ": "d", "ð": "d", "þ": "th",
    "ı": "i", "ŀ": "l",
}  # fmt: skip


def _sql_str(value: str, dialect: str = DUCKDB) -> str:
    if dialect == SPARK:  # Spark's string literals take backslash escapes
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return "'" + value.replace("'", "''") + "'"


def _transliterate(expr: str) -> str:
    out = expr
    for source, target in TRANSLITERATION.items():
        out = f"replace({out}, {_sql_str(source)}, {_sql_str(target)})"
    return out


# Name characters DuckDB's strip_accents changes are looked up among every code point
# from here on (below it, ASCII, which nothing changes).
FIRST_NON_ASCII = 0x80
LAST_CODE_POINT = 0x10FFFF
APOSTROPHES = "'`\u2018\u2019\u02bc"


@functools.cache
def spark_latin_table() -> tuple[str, str]:
    """``translate()``'s two strings for Spark: what the transliteration and DuckDB's
    ``strip_accents`` after it make of each single character, as one lookup.

    Every code point that either changes is in the first string; the second holds what it
    becomes (a transliteration's one letter, or the base letter DuckDB leaves), and the
    characters past its end (a combining accent, a hard sign) are removed, as
    ``translate()`` removes characters it has no counterpart for.  Characters that
    DuckDB strips to something still not ASCII are left out: :func:`normalised_name`
    turns both into a space.  The table is read from DuckDB itself, so the two engines
    agree for the DuckDB that Accord runs (tests/linkage/test_linkage_spark.py checks every code
    point).  Transliterations to two or more letters are ``replace()`` calls before it.
    """
    con = duckdb.connect(":memory:")
    try:
        rows = con.execute(
            f"""SELECT c, s FROM (
                SELECT chr(CAST(cp AS INTEGER)) AS c, strip_accents(chr(CAST(cp AS INTEGER))) AS s
                FROM (SELECT range AS cp FROM range({FIRST_NON_ASCII}, 55296)
                      UNION ALL SELECT range FROM range(57344, {LAST_CODE_POINT + 1})))
            WHERE s <> c AND (s = '' OR NOT regexp_matches(s, '[^\\x01-\\x7f]')
                              OR contains(?, s))
            ORDER BY c""",
            [APOSTROPHES],
        ).fetchall()
    finally:
        con.close()
    mapped = {c: t for c, t in TRANSLITERATION.items() if len(t) == 1}
    removed = [c for c, t in TRANSLITERATION.items() if not t]
    for c, stripped in rows:
        if c in TRANSLITERATION:
            continue
        if stripped:
            mapped[c] = stripped
        else:
            removed.append(c)
    return "".join(mapped) + "".join(removed), "".join(mapped.values())


def _latin(lowered: str, dialect: str) -> str:
    if dialect == DUCKDB:
        return (
            f"CASE WHEN regexp_matches({lowered}, '[^\\x01-\\x7f]') "
            f"THEN strip_accents({_transliterate(lowered)}) ELSE {lowered} END"
        )
    out = lowered
    for source, target in TRANSLITERATION.items():
        if len(target) > 1:
            out = f"replace({out}, {_sql_str(source, SPARK)}, {_sql_str(target, SPARK)})"
    sources, targets = spark_latin_table()
    return (
        f"CASE WHEN octet_length({lowered}) <> length({lowered}) "
        f"THEN translate({out}, {_sql_str(sources, SPARK)}, {_sql_str(targets, SPARK)}) "
        f"ELSE {lowered} END"
    )


def _regexp_replace(expr: str, pattern: str, replacement: str, dialect: str) -> str:
    """Every match replaced (Spark's regexp_replace is global; DuckDB's needs ``'g'``)."""
    if dialect == DUCKDB:
        return f"regexp_replace({expr}, {pattern}, {replacement}, 'g')"
    return f"regexp_replace({expr}, {pattern}, {replacement})"


def normalised_name(expr: str, dialect: str = DUCKDB) -> str:
    """SQL: a name in lower-case ASCII words, or NULL when nothing is left of it.

    Apostrophes vanish (``O'Brien`` = ``OBrien``); any other run of non-letters becomes
    one space (``Campbell-Lewis`` = ``Campbell Lewis``).
    """
    lowered = f"lower({expr})"
    latin = _latin(lowered, dialect)
    no_apostrophes = _regexp_replace(latin, "'[''`\u2018\u2019\u02bc]'", "''", dialect)
    spaced = _regexp_replace(no_apostrophes, "'[^a-z0-9]+'", "' '", dialect)
    words = f"trim({spaced})"
    return f"nullif({words}, '')"


def skeleton(expr: str, dialect: str = DUCKDB) -> str:
    """SQL: a name's consonant skeleton (vowels, w and y dropped, letters not doubled).

    Spellings that differ only in vowels or doubled letters, as transliterations from
    scripts without written vowels do, share a skeleton.

    RE2 (DuckDB's) has no back-references, so a run of a letter is found by naming the
    letter: ``(b)b+|(d)d+|...`` with the replacement ``\\1\\2...``, which keeps the one
    group that matched (the others are empty).  A replacement names at most nine groups,
    so the letters go in :data:`SKELETON_PASS` at a time: three passes where one per
    letter took 26, for the same skeletons (collapsing one letter's runs never makes a
    run of another) in less than half the time, and several times faster than splitting
    the string into a list.  Spark's Java expressions run one pass per letter.
    """
    out = f"replace(replace({expr}, ' ', ''), 'ph', 'f')"
    out = _regexp_replace(f"translate({out}, 'qcz', 'kks')", "'[aeiouyw]'", "''", dialect)
    if dialect == DUCKDB:
        for start in range(0, len(SKELETON_LETTERS), SKELETON_PASS):
            letters = SKELETON_LETTERS[start : start + SKELETON_PASS]
            runs = "|".join(f"({letter}){letter}+" for letter in letters)
            kept = "".join(f"\\{group}" for group in range(1, len(letters) + 1))
            out = _regexp_replace(out, f"'{runs}'", f"'{kept}'", dialect)
        return f"nullif({out}, '')"
    for letter in SKELETON_LETTERS:
        out = _regexp_replace(out, f"'{letter}{letter}+'", f"'{letter}'", dialect)
    return f"nullif({out}, '')"


# The letters a skeleton can still hold (q, c and z have become k, k and s).
SKELETON_LETTERS = "bdfghjklmnprstvx0123456789"
# Letters whose runs one regular expression collapses (a replacement names groups 1 to 9).
SKELETON_PASS = 9


def compact_postcode(expr: str) -> str:
    """SQL: a postcode in upper case without spaces or hyphens (``sw1a 1aa`` = ``SW1A1AA``)."""
    return f"nullif(upper(replace(replace({expr}, ' ', ''), '-', '')), '')"


# A compact UK postcode: outward code (area letters, district digit and maybe a letter or
# digit) then the inward code (a digit and two letters).
UK_POSTCODE = "^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$"


def _full_match(expr: str, pattern: str, dialect: str) -> str:
    if dialect == DUCKDB:
        return f"regexp_full_match({expr}, '{pattern}')"
    # Java's ``$`` also matches before a final line break; ``\z`` is the very end.
    core = pattern.removeprefix("^").removesuffix("$")
    return f"{expr} RLIKE '^(?:{core})\\\\z'"


def _postcode_parts(pc: str, dialect: str = DUCKDB) -> str:
    """SQL: ``pc_sector`` and ``pc_district`` of a compact postcode.

    A UK postcode's sector (``SW1A1``) and district (``SW1A``) are the outward code with
    and without the inward code's digit.  Any other format (a four-digit Australian or a
    five-digit German code, say) has no sector; its "district" is its first half, which
    in most numeric systems is the region (``4223`` -> ``42``).
    """
    uk = _full_match(pc, UK_POSTCODE, dialect)
    return (
        f"CASE WHEN {uk} THEN left({pc}, length({pc}) - 2) END AS pc_sector, "
        f"{_pc_district(pc, dialect)} AS pc_district"
    )


def _pc_district(pc: str, dialect: str = DUCKDB) -> str:
    uk = _full_match(pc, UK_POSTCODE, dialect)
    half = f"length({pc}) // 2" if dialect == DUCKDB else f"length({pc}) div 2"
    return (
        f"CASE WHEN {uk} THEN left({pc}, length({pc}) - 3) "
        f"WHEN length({pc}) >= 2 THEN left({pc}, {half}) END"
    )


def _sorted_words(expr: str, dialect: str) -> str:
    if dialect == DUCKDB:
        return f"array_to_string(list_sort(string_split({expr}, ' ')), ' ')"
    return f"array_join(array_sort(split({expr}, ' ')), ' ')"


def _sorted_characters(expr: str, dialect: str) -> str:
    if dialect == DUCKDB:
        return f"array_to_string(list_sort(string_split({expr}, '')), '')"
    return f"array_join(array_sort(split({expr}, '')), '')"


def _key(expr: str, dialect: str) -> str:
    """SQL: a blocking key as a 64-bit hash in DuckDB (an integer join is about twice as
    fast as one on text), the text itself elsewhere; NULL stays NULL."""
    if dialect == DUCKDB:
        return f"CASE WHEN ({expr}) IS NOT NULL THEN hash({expr}) END"
    return expr


def _characters_key(expr: str, dialect: str) -> str:
    """SQL: a blocking key that two strings share when they hold the same characters in
    any order (``SW1A1AA`` and ``SW1A1AA`` with two characters swapped).

    In DuckDB it is the hash of the sum of the characters' hashes, which no reordering
    changes, instead of the sorted characters: sorting a list per row costs three times
    as much on a register of a million records.  Two different sets of characters share
    it with a chance of about one in 10^19, and then only add a pair to be scored."""
    if dialect == DUCKDB:
        summed = f"list_sum(list_transform(string_split({expr}, ''), lambda c: hash(c)))"
        return f"CASE WHEN {expr} IS NOT NULL THEN hash({summed}) END"
    return _sorted_characters(expr, dialect)


# The columns every side gets (Splink needs identical schemas on both sides).
FEATURE_COLUMNS = (
    "rid",  # row number: the join key for candidate pairs, never shown
    "uid",  # person_id or record_id
    "fam",  # family name, normalised words
    "fam_c",  # ... without spaces
    "fam1",  # ... first word
    "fam_sk",  # ... consonant skeleton
    "fam_srt",  # ... its letters in alphabetical order (a blocking key)
    "giv",  # given names, normalised words
    "giv_c",
    "giv1",  # first given name
    "giv1_sk",
    "giv_sorted",  # given names in alphabetical order
    "dob",
    "dob_s",  # date of birth as YYYYMMDD text: one mistyped or transposed digit is one edit
    "dob_sw",  # date of birth with day and month swapped, where that is a date
    "dob_ym",  # blocking keys: two of year, month and day
    "dob_md",
    "dob_yd",
    "pc",  # postcode, upper case without spaces
    "pc_sector",  # UK postcodes only: the outward code and the inward code's digit
    "pc_district",  # the outward code of a UK postcode, else the first half of any other
    "pc_srt",  # its characters in order (a blocking key: a transposition leaves it as it is)
    "pc_hist",  # every postcode the source holds for the person (pool side; NULL for records)
    "arrived",  # the person's first recorded arrival (pool side)
    "since",  # when the record's relationship with the recipient began (register side)
)

# Feature columns only blocking rules use.
BLOCKING_ONLY = frozenset({"fam_srt", "dob_ym", "dob_md", "dob_yd", "pc_srt"})

# The blocking keys of a side: names as integer ids (one vocabulary for every name column,
# so a family name can be compared with a given name), dates as integers.  Blocking a
# million records on integers is cheaper than on strings, and the string features are
# then made only for the records some rule found.
# ``fam_srt`` is the family name's letters in alphabetical order and ``pc_srt`` the
# postcode's characters: two letters or digits swapped leave them unchanged.
# ``giv_c`` (the given names without spaces) is no rule's key: the register's term
# frequencies are counted on it.
KEY_COLUMNS = ("rid", "fam_c", "fam1", "fam_sk", "fam_srt", "giv_c", "giv1", "giv1_sk",
               "dob", "dob_sw", "dob_ym", "dob_md", "dob_yd", "pc", "pc_district",
               "pc_srt")  # fmt: skip

NAMES_TABLE = "feature_names"


def build_names(con: duckdb.DuckDBPyConnection | Sql, sources: list[str]) -> None:
    """Normalise every distinct family and given name of ``sources`` once.

    A register of a million records holds a tenth as many distinct names, and the
    transliteration and skeleton are the costly part.  Each step is its own table:
    inlined, DuckDB would evaluate the costly expressions once per reference.
    """
    db = as_sql(con)
    d = db.dialect
    raw = " UNION ".join(
        f"SELECT family_name AS raw FROM {src} WHERE family_name IS NOT NULL "
        f"UNION SELECT given_names FROM {src} WHERE given_names IS NOT NULL"
        for src in sources
    )
    db.create(f"{NAMES_TABLE}_n", f"SELECT raw, {normalised_name('raw', d)} AS n FROM ({raw})",
              temp=True)  # fmt: skip
    db.create(
        f"{NAMES_TABLE}_p",
        f"""SELECT raw, n, split_part(n, ' ', 1) AS first, {skeleton("n", d)} AS sk
        FROM {NAMES_TABLE}_n WHERE n IS NOT NULL""",
        temp=True,
    )
    db.create(
        f"{NAMES_TABLE}_f",
        f"""SELECT first, {skeleton("first", d)} AS first_sk
        FROM (SELECT DISTINCT first FROM {NAMES_TABLE}_p)""",
        temp=True,
    )
    db.create(
        f"{NAMES_TABLE}_s",
        f"""SELECT p.raw, p.n, replace(p.n, ' ', '') AS c, p.sk, p.first, f.first_sk,
               CASE WHEN p.first = p.n THEN p.n
                    ELSE {_sorted_words("p.n", d)} END AS sorted,
               '#' || {_sorted_characters("replace(p.n, ' ', '')", d)} AS letters
        FROM {NAMES_TABLE}_p AS p JOIN {NAMES_TABLE}_f AS f USING (first)""",
        temp=True,
    )
    # The ids are only join keys, so their order does not matter; Spark refuses a window
    # without one.
    order = "" if d == DUCKDB else "ORDER BY v"
    db.create(
        f"{NAMES_TABLE}_v",
        f"""SELECT v, CAST(row_number() OVER ({order}) AS INTEGER) AS id FROM (
            SELECT c AS v FROM {NAMES_TABLE}_s UNION SELECT first FROM {NAMES_TABLE}_s
            UNION SELECT sk FROM {NAMES_TABLE}_s WHERE sk IS NOT NULL
            UNION SELECT first_sk FROM {NAMES_TABLE}_s WHERE first_sk IS NOT NULL
            UNION SELECT letters FROM {NAMES_TABLE}_s)""",
        temp=True,
    )
    db.create(
        NAMES_TABLE,
        f"""SELECT s.*, vc.id AS c_id, vf.id AS first_id, vs.id AS sk_id, vfs.id AS first_sk_id,
               vl.id AS letters_id
        FROM {NAMES_TABLE}_s AS s
        JOIN {NAMES_TABLE}_v AS vc ON vc.v = s.c
        JOIN {NAMES_TABLE}_v AS vl ON vl.v = s.letters
        JOIN {NAMES_TABLE}_v AS vf ON vf.v = s.first
        LEFT JOIN {NAMES_TABLE}_v AS vs ON vs.v = s.sk
        LEFT JOIN {NAMES_TABLE}_v AS vfs ON vfs.v = s.first_sk""",
        temp=True,
    )
    for part in ("n", "p", "f", "s", "v"):
        db.drop(f"{NAMES_TABLE}_{part}")


def drop_names(con: duckdb.DuckDBPyConnection | Sql) -> None:
    as_sql(con).drop(NAMES_TABLE)


def _dob_swapped(dob: str) -> str:
    return f"""CASE WHEN day({dob}) <= 12 AND day({dob}) != month({dob})
                 THEN make_date(year({dob}), day({dob}), month({dob})) END AS dob_sw"""


def _dob_keys(dob: str) -> str:
    return f"""{_dob_swapped(dob)},
            year({dob}) * 100 + month({dob}) AS dob_ym,
            month({dob}) * 100 + day({dob}) AS dob_md,
            year({dob}) * 100 + day({dob}) AS dob_yd"""


def _text(dialect: str) -> str:
    return "VARCHAR" if dialect == DUCKDB else "STRING"


def _history(dialect: str) -> str:
    """SQL: the source's postcode history compacted, without repeats or NULLs."""
    if dialect == DUCKDB:
        return (
            f"list_filter(list_distinct(list_transform(s.{HISTORY_COLUMN}, "
            f"lambda x: {compact_postcode('x')})), lambda x: x IS NOT NULL)"
        )
    return (
        f"filter(array_distinct(transform(s.{HISTORY_COLUMN}, "
        f"x -> {compact_postcode('x')})), x -> x IS NOT NULL)"
    )


def add_features(
    con: duckdb.DuckDBPyConnection | Sql,
    source: str,
    id_column: str,
    target: str,
    only: str | None = None,
    blocking_keys: bool = True,
) -> None:
    """Create ``target`` with the comparison features (:data:`FEATURE_COLUMNS`) of
    ``source`` (which has a unique BIGINT ``rid``), after :func:`build_names`.

    ``only`` is a relation of ``rid`` values: the rows to make features for.  Without
    ``blocking_keys`` the columns only blocking rules use (:data:`BLOCKING_ONLY`) are left
    out: scoring and training compare the others, and sorting every postcode's characters
    is a large part of the cost.
    """
    db = as_sql(con)
    d = db.dialect
    where = f"WHERE s.rid IN (SELECT rid FROM {only})" if only else ""
    pc = compact_postcode("s.postcode")
    columns = db.columns(source)
    text = _text(d)
    history = (
        _history(d)
        if HISTORY_COLUMN in columns
        else ("CAST(NULL AS VARCHAR[])" if d == DUCKDB else "CAST(NULL AS ARRAY<STRING>)")
    )
    fam_srt = "fam_srt, " if blocking_keys else ""
    dob_keys = _dob_keys("dob") if blocking_keys else _dob_swapped("dob")
    pc_srt = f"{_sorted_characters('pc', d)} AS pc_srt, " if blocking_keys else ""
    arrived = "s.arrived" if "arrived" in columns else "NULL"
    since = "s.since" if "since" in columns else "NULL"
    dob_s = "strftime(dob, '%Y%m%d')" if d == DUCKDB else "date_format(dob, 'yyyyMMdd')"
    has_history = "len(pc_hist) > 0" if d == DUCKDB else "size(pc_hist) > 0"
    db.create(
        target,
        f"""WITH base AS (
            SELECT s.rid, CAST(s.{id_column} AS {text}) AS uid,
                   f.n AS fam, f.c AS fam_c, f.first AS fam1, f.sk AS fam_sk,
                   f.letters AS fam_srt, g.n AS giv, g.c AS giv_c, g.first AS giv1,
                   g.first_sk AS giv1_sk, g.sorted AS giv_sorted,
                   CAST(s.date_of_birth AS DATE) AS dob, {pc} AS pc, {history} AS pc_hist,
                   CAST({arrived} AS DATE) AS arrived, CAST({since} AS DATE) AS since
            FROM {source} AS s
            LEFT JOIN {NAMES_TABLE} AS f ON f.raw = s.family_name
            LEFT JOIN {NAMES_TABLE} AS g ON g.raw = s.given_names
            {where}
        )
        SELECT rid, uid, fam, fam_c, fam1, fam_sk, {fam_srt}giv, giv_c, giv1, giv1_sk,
            giv_sorted, dob,
            {dob_s} AS dob_s,
            {dob_keys},
            pc, {_postcode_parts("pc", d)}, {pc_srt}
            CASE WHEN {has_history} THEN pc_hist END AS pc_hist, arrived, since
        FROM base""",
    )


def _postcodes(dialect: str) -> str:
    """SQL: each of a source's postcodes, current and earlier, as rows (a generator): one
    row with NULL for a person with none."""
    if dialect == DUCKDB:
        every = f"list_distinct(list_append(coalesce(s.{HISTORY_COLUMN}, []), s.postcode))"
        # list_distinct drops NULLs: a person with no postcode at all keeps one row.
        return f"unnest(CASE WHEN len({every}) = 0 THEN [NULL] ELSE {every} END)"
    every = (
        f"array_distinct(concat(coalesce(s.{HISTORY_COLUMN}, CAST(array() AS ARRAY<STRING>)), "
        "array(s.postcode)))"
    )
    return f"explode_outer(filter({every}, x -> x IS NOT NULL))"


def add_keys(con: duckdb.DuckDBPyConnection | Sql, source: str, target: str) -> None:
    """Create ``target`` with the blocking keys (:data:`KEY_COLUMNS`) of ``source``:
    the same column names as the features, so the same rules run on either, but names
    as integer ids.

    A source with a postcode history (the pool: every address the casework holds) has one
    row per person and postcode, so a rule on the postcode finds a register record that
    still holds an earlier address; the blocked pairs are deduplicated afterwards.
    """
    db = as_sql(con)
    d = db.dialect
    pc = compact_postcode("s.postcode")
    postcodes = _postcodes(d) if HISTORY_COLUMN in db.columns(source) else "s.postcode"
    base = f"""SELECT s.rid, f.c_id AS fam_c, f.first_id AS fam1, f.sk_id AS fam_sk,
               f.letters_id AS fam_srt, g.c_id AS giv_c, g.first_id AS giv1,
               g.first_sk_id AS giv1_sk,
               CAST(s.date_of_birth AS DATE) AS dob, {postcodes} AS postcode
        FROM {source} AS s
        LEFT JOIN {NAMES_TABLE} AS f ON f.raw = s.family_name
        LEFT JOIN {NAMES_TABLE} AS g ON g.raw = s.given_names"""
    db.create(
        target,
        f"""SELECT rid, fam_c, fam1, fam_sk, fam_srt, giv_c, giv1, giv1_sk, dob,
               {_dob_keys("dob")},
               pc, {_key(_pc_district("pc", d), d)} AS pc_district,
               {_characters_key("pc", d)} AS pc_srt
        FROM (SELECT *, {pc.replace("s.postcode", "postcode")} AS pc FROM ({base}) AS b)""",
    )


def add_candidate_pairs(con: duckdb.DuckDBPyConnection | Sql, settings: dict[str, Any]) -> None:
    """``blocked``: every pool/register pair some prediction blocking rule of
    ``settings`` finds in the key tables ``pool_k`` and ``register_k``, once, with the
    first rule that found it (``match_key``); ``blocked_records``: the register rows
    among them.

    Each rule is a plain equi-join (a hash join); the union is deduplicated once at the
    end rather than each rule excluding the pairs of the rules before it, which would
    turn every join into a nested comparison of all earlier rules.
    """
    db = as_sql(con)
    rules = [
        str(r["blocking_rule"]) if isinstance(r, dict) else str(r)
        for r in settings["blocking_rules_to_generate_predictions"]
    ]
    union = " UNION ALL ".join(
        f"SELECT {i} AS rule, l.rid AS lr, r.rid AS rr FROM pool_k AS l "
        f"JOIN register_k AS r ON {rule}"
        for i, rule in enumerate(rules)
    )
    db.create(
        "blocked",
        f"SELECT CAST(min(rule) AS {_text(db.dialect)}) AS match_key, lr AS join_key_l, "
        f"rr AS join_key_r FROM ({union}) GROUP BY lr, rr",
    )
    db.create("blocked_records", "SELECT DISTINCT join_key_r AS rid FROM blocked")


# The pool's column of every postcode the source holds for a person (a list), when given.
HISTORY_COLUMN = "postcodes"


# The vocabulary id (:func:`build_names`) of each name value a key table holds as an id.
_NAME_IDS = {"c": "c_id", "first": "first_id"}


def add_term_frequencies(
    con: duckdb.DuckDBPyConnection | Sql,
    pool_in: str,
    register_values: str,
    pool_values: str,
    names_as_ids: bool = False,
) -> None:
    """Tables ``tf_<column>``: how common each value is among the register's records.

    Only values the pool also holds are kept: a term frequency matters only where both
    sides agree exactly.  ``register_values`` (one row per record) and ``pool_values``
    are feature tables, or key tables (:func:`add_keys`) with ``names_as_ids``: each
    record's names are counted there as the integer ids the keys hold, which groups a
    million records several times faster than their text, and the ids are turned into
    names afterwards.
    """
    db = as_sql(con)
    in_pool = f"SELECT family_name AS raw FROM {pool_in} UNION SELECT given_names FROM {pool_in}"
    for col, field in (("fam_c", "c"), ("giv_c", "c"), ("giv1", "first")):
        counted = (
            f"SELECT {col}, count(*) AS k FROM {register_values} WHERE {col} IS NOT NULL GROUP BY 1"
        )
        if names_as_ids:
            counted = f"""SELECT n.{field} AS {col}, r.k FROM ({counted}) AS r
                JOIN (SELECT DISTINCT {field}, {_NAME_IDS[field]} AS id FROM {NAMES_TABLE})
                    AS n ON n.id = r.{col}"""
        db.create(
            f"tf_{col}",
            f"""WITH k AS ({counted}), wanted AS (
                SELECT DISTINCT n.{field} AS {col} FROM {NAMES_TABLE} AS n
                WHERE n.raw IN ({in_pool})
            )
            SELECT {col}, CAST(k AS DOUBLE) / (SELECT sum(k) FROM k) AS tf_{col}
            FROM k WHERE {col} IN (SELECT {col} FROM wanted)""",
        )
    for col in ("dob", "pc"):
        db.create(
            f"tf_{col}",
            f"""SELECT {col}, CAST(count(*) AS DOUBLE)
                   / (SELECT count({col}) FROM {register_values}) AS tf_{col}
            FROM {register_values}
            WHERE {col} IN (SELECT {col} FROM {pool_values})
            GROUP BY 1""",
        )
