"""Check that a change leaves `accord demo`'s outputs as they were (issue 20's done-when).

    python scripts/demo_compare.py run DIR       # accord demo --out DIR, with repeatable ids
    python scripts/demo_compare.py compare A B   # exit 0 if A and B hold the same outputs

To compare a change with the code before it, run the demo once on each and compare:

    git archive BASE | tar -x -C /tmp/base
    PYTHONPATH=/tmp/base/src .venv/bin/python scripts/demo_compare.py run /tmp/demo-before
    .venv/bin/python scripts/demo_compare.py run /tmp/demo-after
    .venv/bin/python scripts/demo_compare.py compare /tmp/demo-before /tmp/demo-after

``run`` fixes Python's ``secrets.token_bytes`` (a counter, not randomness) before the
demo starts: the database's id key comes from it (migration 0008, `accord.ids`), and the
demo's simulated audit draws its sample over disclosures in the order of ids keyed with
it, so with a random key two runs of the same code choose different disclosures.  Never use it
for anything but this comparison.

``compare`` compares every file, and every table of ``accord.db`` row by row, after
masking what differs from run to run by nature: ISO datetimes, millisecond timestamps,
run ids (which embed their start time), hex and base64 runs of 32 characters or more
(hashes and roots over contents that hold timestamps, signatures, key ids), password
hashes (their salts come from ``secrets`` too, in an order that shifts with when modules
are first imported), PEM blocks, the output folder's own path and demo.json's step
durations.  The ledger key and the
PDFs (which embed their creation time) are not compared.  A JSON object held in a
table's text column is compared with its keys in order: key order means nothing in JSON.
"""

from __future__ import annotations

import json
import re
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

STEPS = "synthesise|run|review|actions and events|audit|subject access|simulate|report|users|verify"
MASKS = [
    (re.compile(r"-----BEGIN [A-Z ]+-----.*?-----END [A-Z ]+-----", re.S), "PEM"),
    (re.compile(r"scrypt\$[0-9$]+[A-Za-z0-9+/_=-]+\$[A-Za-z0-9+/_=-]+"), "PASSWORD-HASH"),
    (re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?"), "TIME"),
    (re.compile(r"(run|events)-\d{8}T\d{6}Z-[0-9a-f]+"), "RUN-ID"),
    (re.compile(r"\b\d{13}\b"), "MILLISECONDS"),
    (re.compile(r"[0-9a-fA-F]{32,}"), "HEX"),
    (re.compile(r"[A-Za-z0-9+/_-]{40,}={0,2}"), "BASE64"),
    (re.compile(rf'("({STEPS})": )[0-9.]+'), r"\1SECONDS"),
]
NOT_COMPARED = (".key", ".pdf", ".db-wal", ".db-shm")


def run(out: Path) -> int:
    import secrets

    counter = iter(range(1 << 62))

    def repeatable(n: int | None = 32) -> bytes:
        start = next(counter)
        return bytes((start + i) % 256 for i in range(n or 32))

    secrets.token_bytes = repeatable  # type: ignore[assignment]
    from accord.cli import main

    return main(["demo", "--out", str(out)])


def _mask(text: str, root: Path) -> str:
    text = text.replace(str(root), "OUT")
    for pattern, word in MASKS:
        text = pattern.sub(word, text)
    return text


def _cell(value: object) -> object:
    """Bytes as text when they are text (leaf contents), else as hex (hashes, signatures);
    a JSON object stored as text with its keys in order (the order of an object's keys
    means nothing in JSON, and SQLite keeps whatever order it was given)."""
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            return value.hex()
    if isinstance(value, str) and value.startswith("{"):
        try:
            return json.dumps(json.loads(value), sort_keys=True)
        except ValueError:
            return value
    return value


def _tables(path: Path) -> Iterator[str]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for name in sorted(names):
            rows = sorted(
                repr(tuple(_cell(v) for v in row)) for row in con.execute(f'SELECT * FROM "{name}"')
            )
            yield f"## table {name}: {len(rows)} rows"
            yield from rows
    finally:
        con.close()


def _content(path: Path, root: Path) -> list[str] | None:
    if path.name.endswith(NOT_COMPARED):
        return None
    if path.suffix == ".db":
        return [_mask(line, root) for line in _tables(path)]
    data = path.read_bytes()
    try:
        return _mask(data.decode("utf-8"), root).splitlines()
    except UnicodeDecodeError:
        return [data.hex()]


def compare(a: Path, b: Path) -> int:
    names = sorted(
        {p.relative_to(a) for p in a.rglob("*") if p.is_file()}
        | {p.relative_to(b) for p in b.rglob("*") if p.is_file()}
    )
    names = [n for n in names if not n.name.endswith((".db-wal", ".db-shm"))]
    differ = skipped = 0
    for name in names:
        if not (a / name).is_file() or not (b / name).is_file():
            print(f"only in {a if (a / name).is_file() else b}: {name}")
            differ += 1
            continue
        left, right = _content(a / name, a), _content(b / name, b)
        if left is None or right is None:
            skipped += 1
            continue
        if left != right:
            differ += 1
            pairs = enumerate(zip(left, right, strict=False))
            at = next((i for i, (x, y) in pairs if x != y), min(len(left), len(right)))
            print(f"differs: {name}, line {at + 1}")
            print(f"  {a.name}: {left[at] if at < len(left) else '(ends)'}"[:400])
            print(f"  {b.name}: {right[at] if at < len(right) else '(ends)'}"[:400])
    same = len(names) - differ - skipped
    print(f"{len(names)} files: {same} the same once masked, {differ} differ, ", end="")
    print(f"{skipped} not compared")
    return 1 if differ else 0


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "run":
        return run(Path(argv[1]))
    if len(argv) == 3 and argv[0] == "compare":
        return compare(Path(argv[1]), Path(argv[2]))
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
