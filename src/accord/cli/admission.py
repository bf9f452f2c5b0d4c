"""`accord admit`, `accord cleanse` and `accord audit ...`: the pool and its measurement."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from accord.cli.common import (
    AsOfOption,
    ByOption,
    DatabaseOption,
    KeyOption,
    PolicyOption,
    as_of_date,
    err,
    key_path,
    out,
    ready_database,
)
from accord.cli.common import actor as _actor
from accord.cli.common import policy as _policy
from accord.errors import AccordError, InputError

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from accord.admission import WithdrawHook


def _recall(actor: str, as_of: dt.date) -> WithdrawHook:
    """Recall everything disclosed about withdrawn people, in the cleansing's transaction,
    dated as of the day the pool is checked (accord.clock)."""
    from accord.remedy import by_reason, withdraw_and_recall

    def hook(conn: Connection, withdrawn: list[tuple[str, str]]) -> int:
        grouped = by_reason(withdrawn, "cleansing:")
        return len(withdraw_and_recall(conn, grouped, actor, as_of).recalls)

    return hook


def register(app: typer.Typer) -> None:
    @app.command("admit")
    def admit(
        cases: Annotated[
            Path | None,
            typer.Option("--cases", help="A cases file to take in first (.csv or .parquet)."),
        ] = None,
        as_of: AsOfOption = None,
        policy: PolicyOption = None,
        run_id: Annotated[
            str | None, typer.Option("--run-id", help="Label this admission in the records.")
        ] = None,
        out_dir: Annotated[
            Path | None, typer.Option("--out", help="Write excluded.csv here.")
        ] = None,
        by: ByOption = None,
        key: KeyOption = None,
        database: DatabaseOption = None,
    ) -> None:
        """Decide who enters the refusal pool, and why everyone else is kept out.

        Recalls what was shared about anyone it withdraws, signed with the ledger key.
        """
        from accord import admission, formats

        url = ready_database(database)
        key_path(key, url)
        table = formats.load(cases, "cases") if cases is not None else None
        actor = _actor(by)
        result = admission.admit(
            url,
            as_of_date(as_of),
            run_id,
            table,
            _policy(policy),
            actor,
            str(cases) if cases else "cases",
            _recall(actor, as_of_date(as_of)),
        )
        if result.cases is not None:
            out.print(
                f"cases: {result.cases.inserted:,} new, {result.cases.unchanged:,} already held"
            )
        out.print(
            f"candidates {result.candidates:,}: admitted {result.admitted:,}, "
            f"quarantined {result.quarantined:,}, manual check {result.manual_check:,}, "
            f"excluded {result.excluded_people:,}"
        )
        for reason, n in sorted(result.excluded.items()):
            out.print(f"  excluded {reason}: {n:,}", markup=False)
        if result.withdrawn:
            out.print(f"withdrawn from the pool: {len(result.withdrawn):,}")
        if result.manual_checks_queued:
            out.print(f"manual checks queued: {result.manual_checks_queued:,}")
        if out_dir is not None:
            n = admission.write_excluded_csv(url, out_dir / "excluded.csv")
            out.print(f"wrote {out_dir / 'excluded.csv'} ({n:,} rows)", markup=False)

    @app.command("cleanse")
    def cleanse(
        as_of: AsOfOption = None,
        policy: PolicyOption = None,
        by: ByOption = None,
        key: KeyOption = None,
        database: DatabaseOption = None,
    ) -> None:
        """Re-validate the whole pool; withdraw who no longer qualifies and recall their data.

        The recalls' ledger leaves are signed with the ledger key in the same transaction.
        """
        from accord import admission

        url = ready_database(database)
        key_path(key, url)
        actor = _actor(by)
        recalled: list[int] = []
        hook = _recall(actor, as_of_date(as_of))

        def counting(conn: Connection, withdrawn: list[tuple[str, str]]) -> int:
            n = hook(conn, withdrawn)
            recalled.append(n)
            return n

        withdrawn = admission.cleanse(url, as_of_date(as_of), actor, _policy(policy), counting)
        for person_id, reasons in withdrawn:
            out.print(f"withdrawn {person_id}: {reasons}", markup=False)
        out.print(
            f"cleansing: {len(withdrawn):,} withdrawn, {sum(recalled):,} disclosure(s) recalled"
        )

    audit_app = typer.Typer(
        help="Audit sampling: estimate the error rate as an inspector would.",
        no_args_is_help=True,
    )
    app.add_typer(audit_app, name="audit")

    @audit_app.command("sample")
    def sample(
        size: Annotated[int, typer.Option("--size", help="How many items to draw.")],
        seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same sample).")],
        of: Annotated[
            str, typer.Option("--of", help="pool (strata: status) or disclosures (by recipient).")
        ] = "pool",
        status: Annotated[
            list[str] | None,
            typer.Option("--status", help="Only pool entries with this status (repeatable)."),
        ] = None,
        sample_id: Annotated[
            str | None, typer.Option("--id", help="Name the sample (default from the seed).")
        ] = None,
        out_file: Annotated[
            Path | None, typer.Option("--out", help="Write the items to check as CSV.")
        ] = None,
        by: ByOption = None,
        database: DatabaseOption = None,
    ) -> None:
        """Draw a stratified random sample of pool entries or disclosures to verify."""
        from accord import audit

        kinds = {"pool": "pool_entry", "disclosures": "disclosure"}
        if of not in kinds:
            raise typer.BadParameter(f"{of!r}: use pool or disclosures", param_hint="--of")
        url = ready_database(database)
        drawn_id, strata = audit.sample(url, size, seed, kinds[of], status, sample_id, _actor(by))
        out.print(f"sample {drawn_id}: {sum(s.drawn for s in strata):,} item(s)", markup=False)
        for s in strata:
            out.print(f"  {s.stratum}: {s.drawn:,} of {s.population:,}", markup=False)
        if out_file is not None:
            rows = audit.items(url, drawn_id)
            out_file.parent.mkdir(parents=True, exist_ok=True)
            with out_file.open("w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                writer.writerow(["sample_id", "item_kind", "item_ref", "stratum", "verdict"])
                writer.writerows(
                    [r.sample_id, r.item_kind, r.item_ref, r.stratum, r.verdict or ""] for r in rows
                )
            out.print(f"wrote {out_file}", markup=False)

    @audit_app.command("record")
    def record(
        sample_id: Annotated[str, typer.Argument(help="The sample.")],
        item: Annotated[
            str | None, typer.Argument(help="The item checked (pool: person_id).")
        ] = None,
        verdict: Annotated[str | None, typer.Option("--verdict", help="correct or wrong.")] = None,
        note: Annotated[str | None, typer.Option("--note", help="What was found.")] = None,
        file: Annotated[
            Path | None,
            typer.Option("--file", help="CSV of verdicts: item_ref, verdict[, note]."),
        ] = None,
        by: ByOption = None,
        database: DatabaseOption = None,
    ) -> None:
        """Record the verdict on a sampled item (or a CSV file of verdicts)."""
        from accord import audit

        verdicts: list[tuple[str, str, str | None]] = []
        if file is not None:
            verdicts += _read_verdicts(file)
        if item is not None:
            if verdict is None:
                raise typer.BadParameter("give --verdict correct or --verdict wrong")
            verdicts.append((item, verdict, note))
        if not verdicts:
            raise typer.BadParameter("name an ITEM with --verdict, or give --file")
        url = ready_database(database)
        changed = audit.record(url, sample_id, verdicts, _actor(by))
        out.print(f"sample {sample_id}: {changed} verdict(s) recorded", markup=False)

    @audit_app.command("estimate")
    def estimate(
        sample_id: Annotated[str, typer.Argument(help="The sample.")],
        database: DatabaseOption = None,
    ) -> None:
        """Print the error rate with a 95% Wilson interval, overall and per stratum."""
        from accord import audit, rates

        url = ready_database(database)
        e = audit.estimate(url, sample_id)
        for s in [*e.strata, e.overall]:
            if s.rate is None or s.low is None or s.high is None:
                shown = "no verdicts yet"
            else:
                shown = (
                    f"wrong: {rates.format_rate(s.rate, s.low, s.high, per=rates.PERCENT)}; "
                    f"{s.wrong} wrong of {s.verified} checked"
                )
            out.print(
                f"{s.stratum:<14} N={s.population:<9,} sampled={s.sampled:<5} {shown}", markup=False
            )
        if not e.complete:
            err.print("estimate is partial: some strata have no verdicts yet", markup=False)


def _read_verdicts(path: Path) -> list[tuple[str, str, str | None]]:
    from accord import audit

    if not path.is_file():
        raise InputError.single(path, "no such file")
    rows: list[tuple[str, str, str | None]] = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ("item_ref", "verdict") if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError.single(path, "required column is missing", column=missing[0])
        for i, r in enumerate(reader, start=1):
            verdict = (r.get("verdict") or "").strip()
            if verdict not in audit.VERDICTS:
                raise InputError.single(
                    path, f"{verdict!r} is not correct or wrong", row=i, column="verdict"
                )
            ref = (r.get("item_ref") or "").strip()
            if not ref:
                raise InputError.single(path, "is required but empty", row=i, column="item_ref")
            rows.append((ref, verdict, (r.get("note") or "").strip() or None))
    if not rows:
        raise AccordError(f"{path}: no verdicts in the file")
    return rows
