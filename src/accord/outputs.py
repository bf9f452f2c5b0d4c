"""The files `accord run` writes (SPEC.md, the batch contract), each whole or not at all.

They are written after the run's transaction commits, into a hidden folder beside them,
then moved into place one by one; the run is then marked delivered.  A run that
committed but was killed before that point stays ``disclosed``, and the next run's
batches carry its disclosures too, so a recipient never misses one.

A disclosure made when a reviewer approved a match (no run, ``run_id`` NULL) goes out in
the next run's batches and is then marked with that run (``delivered_in``), so it is
delivered once; if the run dies between its files and that mark, the run after delivers
it again under the same id, as for a run's own disclosures.

Each batch row is the disclosure id, the recipient's own ``record_id`` (the record that
was matched, so the recipient acts on it and never matches again by name) and the
agreed fields, every cell safe to open in a spreadsheet (:mod:`accord.csvsafe`).
:func:`write_batch` writes it, for the run and for the inbox's download alike.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from sqlalchemy import and_, or_, select, update

from accord import admission
from accord.csvsafe import neutralise
from accord.errors import AccordError
from accord.remedy import chunks
from accord.store import db
from accord.store.models import Disclosure, ReviewItem, Run, utcnow
from accord.vocab import DisclosureStatus, ItemStatus

# SPEC.md's columns, then ``score_id`` (empty unless the disclosure is a derived score).
DISCLOSURE_COLUMNS = (
    "disclosure_id", "agreement_id", "recipient", "record_id", "person_id",
    "match_probability", "decided_by", "ledger_index", "score_id",
)  # fmt: skip
REVIEW_COLUMNS = (
    "item_id", "kind", "person_id", "record_id", "agreement_id", "reason", "score_id",
)  # fmt: skip


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def _cell(value: Any) -> Any:
    """A CSV cell: empty for none; a nested value (a score's explanation) as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return value


def _batch_cell(value: Any) -> str:
    """A batch cell: as :func:`_cell`, as text a spreadsheet will not run as a formula."""
    return neutralise(str(_cell(value)))


BATCH_COLUMNS = ("disclosure_id", "record_id")  # then the agreed fields
BatchRow = tuple[str, str, Mapping[str, Any]]  # disclosure_id, record_id, the fields sent


def write_batch(fh: IO[str], rows: Sequence[BatchRow], agreed: Sequence[str] = ()) -> None:
    """SPEC.md's ``batches/<recipient>.csv`` of ``rows``, to ``fh`` (opened with ``newline=""``).

    The columns are :data:`BATCH_COLUMNS`, then the agreed fields: ``agreed`` first, then
    any other field a disclosure carries, in the order first sent.
    """
    fields = [f for f in agreed if f not in BATCH_COLUMNS]
    for _, _, sent in rows:
        fields += [f for f in sent if f not in fields and f not in BATCH_COLUMNS]
    writer = csv.writer(fh)
    writer.writerow([*BATCH_COLUMNS, *fields])
    writer.writerows(
        [
            _batch_cell(disclosure_id),
            _batch_cell(record_id),
            *(_batch_cell(sent.get(f)) for f in fields),
        ]
        for disclosure_id, record_id, sent in rows
    )


def write_outputs(
    url: str,
    run_id: str,
    out: Path,
    summary: dict[str, Any],
    batch_fields: dict[str, list[str]],
    deliver: Callable[[list[str]], None] | None = None,
) -> None:
    """Write every file of the run; ``batch_fields`` names each recipient's agreed fields.

    ``deliver`` (for ``--out s3://...``) then uploads the files written, ``summary.json``
    last; until it has, the runs are not marked delivered, so that what they disclosed
    goes out again with the next run.
    """
    out.mkdir(parents=True, exist_ok=True)
    staging = out / f".{run_id}.partial"
    # A run killed while writing leaves its staging folder; what it held goes out with
    # this run (its disclosures are still undelivered), so the folder is only litter.
    for stale in out.glob(".run-*.partial"):
        shutil.rmtree(stale, ignore_errors=True)
    (staging / "batches").mkdir(parents=True)
    with db.connect(url) as conn:
        undelivered = [
            r
            for r in conn.scalars(select(Run.run_id).where(Run.status == "disclosed"))
            if r is not None
        ]
        runs = sorted(set(undelivered) | {run_id})
        disclosures = conn.execute(
            select(Disclosure)
            .where(
                or_(
                    Disclosure.run_id.in_(runs),
                    # Approved at review since the last delivery, and still in force.
                    and_(
                        Disclosure.run_id.is_(None),
                        Disclosure.delivered_in.is_(None),
                        Disclosure.status == DisclosureStatus.ACTIVE,
                    ),
                )
            )
            .order_by(Disclosure.recipient, Disclosure.ledger_index)
        ).all()
        reviewed = [d.disclosure_id for d in disclosures if d.run_id is None]
        items = conn.execute(
            select(*(getattr(ReviewItem, c) for c in REVIEW_COLUMNS))
            .where(ReviewItem.status == ItemStatus.OPEN)
            .order_by(ReviewItem.created_at, ReviewItem.item_id)
        ).all()
        recipients = sorted(set(batch_fields) | {d.recipient for d in disclosures})
        _write_csv(
            staging / "disclosures.csv",
            list(DISCLOSURE_COLUMNS),
            [[_cell(getattr(d, c)) for c in DISCLOSURE_COLUMNS] for d in disclosures],
        )
        for recipient in recipients:
            mine = [
                (d.disclosure_id, d.record_id, d.fields)
                for d in disclosures
                if d.recipient == recipient
            ]
            path = staging / "batches" / f"{recipient}.csv"
            with path.open("w", newline="", encoding="utf-8") as fh:
                write_batch(fh, mine, batch_fields.get(recipient, []))
        _write_csv(
            staging / "review_queue.csv",
            list(REVIEW_COLUMNS),
            [[_cell(v) for v in row] for row in items],
        )
    admission.write_excluded_csv(url, staging / "excluded.csv")
    (staging / "summary.json").write_text(
        json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    (out / "batches").mkdir(exist_ok=True)
    for path in sorted((staging / "batches").iterdir()):
        os.replace(path, out / "batches" / path.name)
    for name in ("disclosures.csv", "review_queue.csv", "excluded.csv", "summary.json"):
        os.replace(staging / name, out / name)
    shutil.rmtree(staging, ignore_errors=True)
    if deliver is not None:
        batches = sorted(f"batches/{p.name}" for p in (out / "batches").iterdir())
        try:
            deliver(
                [*batches, "disclosures.csv", "review_queue.csv", "excluded.csv", "summary.json"]
            )
        except AccordError as exc:
            raise AccordError(
                f"{exc}; the run is recorded, and what it disclosed goes out with the next run"
            ) from None
    with db.connect(url) as conn:
        conn.execute(
            update(Run).where(Run.run_id.in_(runs)).values(status="completed", finished_at=utcnow())
        )
        for chunk in chunks(reviewed):
            conn.execute(
                update(Disclosure)
                .where(Disclosure.disclosure_id.in_(chunk))
                .values(delivered_in=run_id)
            )
