"""`accord link evaluate --labels`, `propose`, `reestimate` and `proposal ...`: learning from
reviewers' labels, under four eyes (docs/linkage.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from accord.cli.common import (
    DatabaseOption,
    KeyOption,
    TokenFileOption,
    key_path,
    out,
    ready_database,
    user_token,
)
from accord.errors import AccordError
from accord.vocab import Decision, ItemStatus

if TYPE_CHECKING:
    from accord.linkage.labels import Precision
    from accord.policy.agreement import Agreement

proposal_app = typer.Typer(
    help="Proposals to raise automation from reviewers' labels: each needs two different "
    "people to approve it before anything changes.",
    no_args_is_help=True,
)
ProposalArgument = Annotated[str, typer.Argument(metavar="ID", help="The proposal's id.")]
WhyOption = Annotated[str, typer.Option("--reason", help="Why.")]


def _interval(p: Precision) -> str:
    if p.low is None or p.high is None:
        return "–"
    return f"{p.low:.4f} to {p.high:.4f}"


def _per_10000(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f}"


def precision_table(title: str, first: str, rows: list[Precision]) -> Table:
    table = Table(
        first, "labels", "same person", "wrong", "precision", "95% interval (Wilson)",
        "wrong per 10,000, upper bound", title=title,
    )  # fmt: skip
    for p in rows:
        table.add_row(
            p.group, f"{p.labels:,}", f"{p.same:,}", f"{p.wrong:,}",
            "–" if p.precision is None else f"{p.precision:.4f}", _interval(p),
            _per_10000(p.wrong_upper_per_10000),
        )  # fmt: skip
    return table


def _agreement(url: str, agreement_id: str) -> Agreement:
    from accord.policy.registry import stored_agreements
    from accord.store import db

    with db.connect(url) as conn:
        found = [a for a, _ in stored_agreements(conn) if a.id == agreement_id]
    if not found:
        raise AccordError(f"no agreement {agreement_id!r} in the database")
    return found[0]


def evaluate_labels(
    url: str, registers: list[str], agreement_id: str | None, disclose_at: float | None
) -> None:
    """Print precision per band and per pattern from the database's labels."""
    from accord.linkage import labels as lab
    from accord.store import db

    if disclose_at is None:
        disclose_at = (
            _agreement(url, agreement_id).match.disclose_at if agreement_id is not None else 0.999
        )
    scopes: list[str | None] = [*registers] or [None]
    with db.connect(url) as conn:
        results = [lab.label_figures(conn, r, agreement_id, disclose_at) for r in scopes]
    for f in results:
        scope = ", ".join(
            x for x in (f.register and f"register {f.register}",
                        f.agreement_id and f"agreement {f.agreement_id}") if x
        ) or "every register"  # fmt: skip
        o = f.overall
        out.print(
            f"{scope}: {o.labels:,} labelled pair(s), {o.same:,} the same person, {o.wrong:,} not"
        )
        if o.labels == 0:
            out.print("no reviewer has decided a match yet: nothing to evaluate")
            continue
        out.print(precision_table(f"{scope}: by probability band", "band", f.bands))
        out.print(precision_table(f"{scope}: by pattern", "pattern", f.patterns))
        a = f.automatic
        out.print(
            f"automatic band (at or above {f.disclose_at:g}): {a.labels:,} label(s), "
            f"{a.wrong:,} wrong: "
            + (
                f"at most {_per_10000(a.wrong_upper_per_10000)} wrong per 10,000 (95% upper bound)"
                if a.labels
                else "no labels in this band"
            )
        )


def register_commands(app: typer.Typer) -> None:
    """Add ``propose``, ``reestimate`` and ``proposal`` to `accord link`."""
    from accord.linkage.limits import MIN_LABELS, MIN_SAME

    @app.command("propose")
    def propose_cmd(
        register: Annotated[
            str | None, typer.Option("--register", help="Only this register.")
        ] = None,
        agreement: Annotated[
            str | None, typer.Option("--agreement", help="Only this agreement.")
        ] = None,
        min_labels: Annotated[
            int,
            typer.Option("--min-labels", min=1, help="Fewer labels on a pattern never propose."),
        ] = MIN_LABELS,
        by: Annotated[str, typer.Option("--by", help="Who asks.")] = "accord link propose",
        database: DatabaseOption = None,
    ) -> None:
        """Propose trusting patterns that reviewers' labels show are right often enough."""
        from accord.linkage import proposals as prop

        url = ready_database(database)
        considered = prop.propose(url, register, agreement, min_labels, by)
        if not considered:
            out.print("no agreement sends a pattern to review that labels say anything about")
            return
        for c in considered:
            lead = f"{c.agreement_id}: "
            if c.why_not is None and c.proposal_id is not None:
                lead += f"proposal {c.proposal_id}: "
            out.print(lead + c.words())
        made = [c for c in considered if c.why_not is None]
        out.print(
            f"{len(made):,} proposal(s) made; none takes effect until two different people "
            "approve it: `accord link proposal approve ID --token-file F --reason TEXT`"
        )

    @app.command("reestimate")
    def reestimate_cmd(
        spec: Annotated[str, typer.Argument(metavar="NAME=FILE", help="Register name and file.")],
        min_same: Annotated[
            int, typer.Option("--min-same", min=1, help="Labelled same-person pairs needed.")
        ] = MIN_SAME,
        by: Annotated[str, typer.Option("--by", help="Who asks.")] = "accord link reestimate",
        database: DatabaseOption = None,
    ) -> None:
        """Re-estimate the register's model from the labels: a new model, not current, and a
        proposal to make it current."""
        from accord import formats
        from accord.config import settings
        from accord.digest import file_sha256
        from accord.linkage import relearn
        from accord.policy.policy import load_policy
        from accord.store import db

        name, sep, file = spec.partition("=")
        if not sep or not name or not file:
            raise typer.BadParameter(f"{spec!r} is not NAME=FILE", param_hint="NAME=FILE")
        url = ready_database(database)
        path = Path(file)
        table = formats.load(path, "register")
        policy = load_policy(settings().policy)
        with db.connect(url) as conn:
            done = relearn.reestimate(
                conn, name, table, file_sha256(path), policy.protected_categories, by, min_same
            )
        out.print(
            f"linkage model {done.model_id} re-estimated from {done.pairs:,} labelled pair(s) "
            f"for register {name}; it is kept, not current (the current one is still "
            f"{done.based_on_model_id}); {len(done.changes):,} level(s) change weight; "
            f"proposal {done.proposal_id} makes it current once two different people approve it"
        )

    app.add_typer(proposal_app, name="proposal")


@proposal_app.command("list")
def list_cmd(
    status: Annotated[
        str, typer.Option("--status", help="open, approved, rejected or all.")
    ] = ItemStatus.OPEN,
    database: DatabaseOption = None,
) -> None:
    """List proposals, oldest first."""
    from accord.linkage import proposals as prop

    if status not in (*prop.STATUSES, "all"):
        raise typer.BadParameter("use open, approved, rejected or all", param_hint="--status")
    url = ready_database(database)
    found = prop.list_proposals(url, status)
    table = Table(
        "proposal", "kind", "agreement / register", "pattern or model", "labels", "wrong",
        "wrong per 10,000, upper bound", "+automatic", "status", "approved by",
        title=f"{len(found):,} {status} proposal(s)",
    )  # fmt: skip
    for p in found:
        table.add_row(
            p.proposal_id, p.kind, p.agreement_id or p.register,
            p.pattern or f"model {p.model_id}", f"{p.labels:,}", f"{p.wrong:,}",
            _per_10000(p.wrong_upper_per_10000),
            "–" if p.automatic_gain is None else f"{p.automatic_gain:,}", p.status,
            p.approved_by or "",
        )  # fmt: skip
    out.print(table)


@proposal_app.command("show")
def show_cmd(
    proposal_id: ProposalArgument,
    database: DatabaseOption = None,
) -> None:
    """One proposal: what it changes, the labels behind it, and who decided it."""
    from accord.linkage import proposals as prop

    url = ready_database(database)
    p = prop.find(url, proposal_id)
    if p is None:
        raise AccordError(f"no proposal {proposal_id!r}")
    what = (
        f"agreement {p.agreement_id} (version {p.based_on_version} then): trust pattern {p.pattern}"
        if p.kind == prop.TRUSTED_PATTERN
        else f"register {p.register}: make model {p.model_id} current (model "
        f"{p.based_on_model_id} then)"
    )
    out.print(f"{p.proposal_id} ({p.kind}, {p.status}): {what}")
    out.print(
        f"labels: {p.labels:,}, wrong: {p.wrong:,}; wrong per 10,000 (95% upper bound): "
        f"{_per_10000(p.wrong_upper_per_10000)}; proposed by {p.proposed_by} at "
        f"{p.proposed_at:%Y-%m-%d %H:%M}"
    )
    if p.automatic_gain is not None:
        out.print(f"open items it would release: {p.automatic_gain:,}")
    changed = p.detail.get("levels_changed") if isinstance(p.detail, dict) else None
    if changed:
        table = Table("comparison", "level", "weight before", "weight after",
                      title="match weights the new model changes")  # fmt: skip
        for c in changed:
            table.add_row(
                str(c["comparison"]), str(c["level"]), f"{float(c['weight_before']):+.2f}",
                f"{float(c['weight_after']):+.2f}",
            )  # fmt: skip
        out.print(table)
    for d in prop.decisions(url, proposal_id):
        out.print(f"  {d.decided_at:%Y-%m-%d %H:%M} {d.reviewer}: {d.decision} ({d.reason})")
    if p.status == ItemStatus.APPROVED:
        out.print(
            f"approved by {p.approved_by}; ledger leaf {p.ledger_index}"
            + (f"; agreement version {p.result_version}" if p.result_version else "")
        )


def _decide(
    proposal_id: str,
    approve: bool,
    token_file: Path | None,
    reason: str,
    key: KeyOption,
    database: str | None,
) -> None:
    from accord import identity
    from accord.linkage import proposals as prop

    command = f"accord link proposal {Decision.APPROVE if approve else Decision.REJECT}"
    token = user_token(token_file, command)
    url = ready_database(database)
    # Four eyes bind to authenticated users: the decider is the token's user, never a
    # typed name (reviewers and admins decide proposals, as on the API).
    decider = identity.user_of_token(url, token, ("reviewer", "admin"), "deciding proposals")
    signer = key_path(key, url) if approve else None
    outcome = prop.decide(url, proposal_id, approve, decider.username, reason, signer)
    out.print(
        f"{outcome.proposal_id}: {outcome.status} ({outcome.approvals} of "
        f"{outcome.approvals_needed} approvals): {outcome.effect}"
    )


@proposal_app.command(Decision.APPROVE)
def approve_cmd(
    proposal_id: ProposalArgument,
    reason: WhyOption = "labels support it",
    token_file: TokenFileOption = None,
    key: KeyOption = None,
    database: DatabaseOption = None,
) -> None:
    """Approve as the user your token proves (--token-file or ACCORD_USER_TOKEN); the
    second different user's approval makes the change."""
    _decide(proposal_id, True, token_file, reason, key, database)


@proposal_app.command(Decision.REJECT)
def reject_cmd(
    proposal_id: ProposalArgument,
    reason: WhyOption = "",
    token_file: TokenFileOption = None,
    database: DatabaseOption = None,
) -> None:
    """Reject as the user your token proves: one rejection settles the proposal and
    nothing changes."""
    if not reason.strip():
        raise typer.BadParameter("say why", param_hint="--reason")
    _decide(proposal_id, False, token_file, reason, None, database)
