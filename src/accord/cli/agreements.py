"""`accord agreements ...` and `accord policy ...`: policy as code, checked and versioned."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml

from accord.cli.common import (
    AsOfOption,
    ByOption,
    DatabaseOption,
    PolicyOption,
    as_of_date,
    err,
    out,
    ready_database,
)
from accord.cli.common import actor as _actor
from accord.cli.common import policy as _policy
from accord.errors import InputError

if TYPE_CHECKING:
    from accord.policy.agreement import Agreement
    from accord.policy.lint import Finding
    from accord.policy.policy import Policy

AgreementArgument = Annotated[str, typer.Argument(help="The agreement's id.")]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why, for the audit log.")]
CohortOption = Annotated[
    str | None,
    typer.Option(
        "--cohort",
        help="Only this cohort of the policy (default: the whole agreement).",
        show_default=False,
    ),
]


def _print_problems(exc: InputError) -> None:
    for p in exc.problems:
        err.print(str(p), markup=False)
    if exc.total > len(exc.problems):
        err.print(f"... and {exc.total - len(exc.problems)} more problems", markup=False)


def _read_agreements(paths: list[Path]) -> list[Agreement]:
    """The agreements in ``paths``; a file that cannot be read or is invalid prints every
    problem and exits 2."""
    from accord.policy.agreement import load_agreements

    try:
        return load_agreements(paths)
    except InputError as exc:
        _print_problems(exc)
        raise typer.Exit(2) from None


def _read_policy(path: Path | None) -> Policy:
    """The policy in ``path`` (None: the built-in one); an invalid file prints every problem
    and exits 2."""
    from accord.policy.policy import load_policy

    try:
        return load_policy(path)
    except InputError as exc:
        _print_problems(exc)
        raise typer.Exit(2) from None


def _refuse_with(findings: list[Finding], refused: str) -> None:
    """Print each finding and exit 1 saying ``refused``; nothing when there are none."""
    if findings:
        for f in findings:
            err.print(str(f), markup=False)
        err.print(f"{refused}: {len(findings)} finding(s)", markup=False)
        raise typer.Exit(1)


def _report(findings: list[Finding], checked: str) -> None:
    for f in findings:
        out.print(str(f), markup=False)
    if findings:
        err.print(f"{checked}: {len(findings)} finding(s)", markup=False)
        raise typer.Exit(1)
    out.print(f"{checked}: no findings", markup=False)


class _Dumper(yaml.SafeDumper):
    """Safe YAML that writes a vocabulary word (accord.vocab, a StrEnum) as its string."""


_Dumper.add_multi_representer(StrEnum, lambda d, v: d.represent_str(str(v)))


def _policy_yaml(policy: Policy) -> str:
    document: dict[str, Any] = policy.model_dump(mode="python", by_alias=True, exclude_none=True)
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def _paused(agreement_id: str, cohort: str | None) -> str:
    """What a pause or resume covers, as the command line says it."""
    return f"cohort {cohort} of {agreement_id}" if cohort else agreement_id


def register(app: typer.Typer) -> None:
    agreements = typer.Typer(
        help="Data-sharing agreements: schema, linter, loading, pauses.", no_args_is_help=True
    )
    policy_app = typer.Typer(
        help="The policy: firewall, cohorts and admission rules.", no_args_is_help=True
    )
    app.add_typer(agreements, name="agreements")
    app.add_typer(policy_app, name="policy")

    @agreements.command("schema")
    def schema(
        out_file: Annotated[
            Path | None, typer.Option("--out", help="Write the schema here instead of stdout.")
        ] = None,
    ) -> None:
        """Print the JSON Schema of an agreement file."""
        from accord.policy.agreement import json_schema_text

        text = json_schema_text()
        if out_file is None:
            typer.echo(text, nl=False)
        else:
            out_file.write_text(text, encoding="utf-8")
            out.print(f"wrote {out_file}", markup=False)

    @agreements.command("check")
    def check(
        paths: Annotated[list[Path], typer.Argument(help="Agreement files or folders of them.")],
        policy: PolicyOption = None,
        as_of: AsOfOption = None,
    ) -> None:
        """Lint agreements: print every finding and exit 1, or a summary and exit 0."""
        from accord.policy.lint import lint

        pol = _policy(policy)
        found = _read_agreements(paths)
        _report(lint(found, pol, as_of_date(as_of)), f"{len(found)} agreement(s) checked")

    @agreements.command("load")
    def load(
        paths: Annotated[list[Path], typer.Argument(help="Agreement files or folders of them.")],
        policy: PolicyOption = None,
        as_of: AsOfOption = None,
        by: ByOption = None,
        database: DatabaseOption = None,
    ) -> None:
        """Record agreements in the database (a changed file makes a new version).

        Nothing is loaded while the linter has findings; a firewall breach is refused.
        """
        from accord.policy import registry
        from accord.policy.lint import lint
        from accord.store import db

        pol = _policy(policy)
        found = _read_agreements(paths)
        findings = lint(found, pol, as_of_date(as_of))
        _refuse_with(findings, "nothing loaded")
        url = ready_database(database)
        actor = _actor(by)
        with db.connect(url) as conn:
            registry.record_policy(conn, pol, actor)
            before = {a.id: v for a, v in registry.stored_agreements(conn)}
            versions = registry.store_agreements(conn, found, actor, pol)
        for a in found:
            version = versions[a.id]
            state = "unchanged" if before.get(a.id) == version else "new version"
            out.print(f"{a.id}: version {version} ({state})", markup=False)

    @agreements.command("list")
    def list_(database: DatabaseOption = None) -> None:
        """List the agreements in force, their versions and pauses."""
        from accord.policy import pauses, registry
        from accord.store import db

        url = ready_database(database)
        with db.connect(url) as conn:
            stored = registry.stored_agreements(conn)
            paused = pauses.active(conn)
        if not stored:
            out.print("no agreements loaded", markup=False)
            return
        for a, version in stored:
            held = [c or "whole agreement" for aid, c in paused if aid == a.id]
            pause_text = f"  paused: {', '.join(held)}" if held else ""
            out.print(
                f"{a.id}  v{version}  {a.status}  {a.recipient}  {a.purpose}{pause_text}",
                markup=False,
            )

    @agreements.command("pause")
    def pause(
        agreement_id: AgreementArgument,
        reason: ReasonOption,
        cohort: CohortOption = None,
        by: ByOption = None,
        policy: PolicyOption = None,
        database: DatabaseOption = None,
    ) -> None:
        """Pause sharing under an agreement, or for one cohort within it, from the next run."""
        from accord.policy import pauses

        url = ready_database(database)
        pause_id = pauses.pause(url, agreement_id, cohort, reason, _actor(by), _policy(policy))
        out.print(
            f"paused {_paused(agreement_id, cohort)} (pause {pause_id}); held disclosures are kept",
            markup=False,
        )

    @agreements.command("resume")
    def resume(
        agreement_id: AgreementArgument,
        reason: ReasonOption,
        cohort: CohortOption = None,
        by: ByOption = None,
        database: DatabaseOption = None,
    ) -> None:
        """Lift a pause; what it held is decided again on the next run."""
        from accord.policy import pauses

        url = ready_database(database)
        pause_id = pauses.resume(url, agreement_id, cohort, reason, _actor(by))
        out.print(
            f"resumed {_paused(agreement_id, cohort)} (pause {pause_id} lifted)", markup=False
        )

    @policy_app.command("show")
    def show(
        file: Annotated[
            Path | None, typer.Argument(help="A policy file (default: the policy in force).")
        ] = None,
    ) -> None:
        """Print the policy in force (or in FILE), with the built-in defaults filled in."""
        typer.echo(_policy_yaml(_policy(file)), nl=False)

    @policy_app.command("check")
    def check_policy(
        file: Annotated[
            Path | None, typer.Argument(help="A policy file (default: the policy in force).")
        ] = None,
    ) -> None:
        """Lint a policy: every way it is weaker than the built-in one."""
        from accord.config import settings
        from accord.policy.lint import lint_policy

        path = file if file is not None else settings().policy
        pol = _read_policy(path)
        _report(lint_policy(pol, str(path) if path else None), f"policy {path or '(built-in)'}")

    @policy_app.command("load")
    def load_policy_cmd(
        file: Annotated[Path, typer.Argument(help="The policy file.")],
        by: ByOption = None,
        database: DatabaseOption = None,
    ) -> None:
        """Record a policy as in force (logged with who and what changed); refused with findings."""
        from accord.policy import registry
        from accord.policy.lint import lint_policy
        from accord.store import db

        pol = _read_policy(file)
        findings = lint_policy(pol, str(file))
        _refuse_with(findings, "not loaded")
        url = ready_database(database)
        with db.connect(url) as conn:
            before = registry.policy_in_force(conn)
            version = registry.record_policy(conn, pol, _actor(by))
        state = "unchanged" if before == version else "now in force"
        out.print(f"policy version {version} ({state})", markup=False)
