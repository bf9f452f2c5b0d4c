"""`accord link`: train a register's linkage model, match the pool to it, evaluate it."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from typer.core import TyperGroup

from accord.cli.common import DatabaseOption, out, ready_database
from accord.cli.labels import evaluate_labels, register_commands
from accord.errors import AccordError

if TYPE_CHECKING:
    import pyarrow as pa

    from accord.linkage.model import TrainedModel

REGISTER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class _LinkGroup(TyperGroup):
    """`accord link NAME=FILE` runs the matching; `train` and `evaluate` are subcommands."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        result: list[str] = super().parse_args(ctx, args)
        return result


app = typer.Typer(
    cls=_LinkGroup,
    help="Match the admitted pool to a recipient's register: `accord link NAME=FILE` "
    "(with a model from `accord link train NAME=FILE`), or `accord link evaluate`.",
    no_args_is_help=True,
)


def _spec(value: str) -> tuple[str, Path]:
    name, sep, file = value.partition("=")
    if not sep or not file:
        raise typer.BadParameter(f"{value!r} is not NAME=FILE", param_hint="NAME=FILE")
    if not REGISTER_NAME.match(name):
        raise typer.BadParameter(
            f"{name!r} is not a register name (letters, digits, '.', '_' and '-')",
            param_hint="NAME=FILE",
        )
    return name, Path(file)


def _pool(url: str) -> pa.Table:
    from accord.config import settings
    from accord.linkage.store import admitted_pool
    from accord.policy.policy import load_policy
    from accord.store import db

    policy = load_policy(settings().policy)
    with db.connect(url) as conn:
        pool = admitted_pool(conn, policy.protected_categories)
    if pool.num_rows == 0:
        raise AccordError(
            f"no one is admitted to the pool in {db.describe(url)}: run `accord admit` first"
        )
    return pool


def _weights_table(model: TrainedModel) -> Table:
    table = Table("comparison", "level", "m", "u", "match weight", title="Match weights")
    for comp in model.settings["comparisons"]:
        for lv in comp["comparison_levels"]:
            if lv.get("is_null_level"):
                continue
            mp, up = float(lv["m_probability"]), float(lv["u_probability"])
            weight = math.log2(mp / up)
            table.add_row(
                comp["output_column_name"], lv["label_for_charts"], f"{mp:.4g}", f"{up:.4g}",
                f"{weight:+.2f}",
            )  # fmt: skip
    return table


def _write(candidates: pa.Table, path: Path) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise AccordError(f"--out {path}: use a .csv or .parquet file")
    if not path.parent.is_dir():
        raise AccordError(f"--out {path}: folder {path.parent} does not exist")
    try:
        if suffix == ".csv":
            pacsv.write_csv(candidates, path)
        else:
            pq.write_table(candidates, path)
    except OSError as exc:
        raise AccordError(f"--out {path}: cannot write it ({exc.strerror or exc})") from exc


@app.command("train")
def train_cmd(
    spec: Annotated[str, typer.Argument(metavar="NAME=FILE", help="Register name and file.")],
    database: DatabaseOption = None,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed for sampling: same seed, same model.")
    ] = 1,
) -> None:
    """Train the register's linkage model on the admitted pool and save it as current."""
    from accord import formats
    from accord.digest import file_sha256
    from accord.linkage import model as m
    from accord.linkage.store import save_model
    from accord.store import db

    name, path = _spec(spec)
    if seed < 0:
        raise typer.BadParameter("the seed must be 0 or more", param_hint="--seed")
    url = ready_database(database)
    register = formats.load(path, "register")
    pool = _pool(url)
    model = m.train(name, pool, register, seed=seed)
    with db.connect(url) as conn:
        model_id = save_model(conn, model, file_sha256(path))
    out.print(_weights_table(model))
    out.print(
        f"linkage model {model_id} for register {name}: trained on {pool.num_rows:,} pool "
        f"members and {register.num_rows:,} register records; it is now current and is "
        "reused until retrained"
    )


@app.command("run", hidden=True)
def run_cmd(
    spec: Annotated[str, typer.Argument(metavar="NAME=FILE", help="Register name and file.")],
    database: DatabaseOption = None,
    min_probability: Annotated[
        float,
        typer.Option("--min-probability", help="Keep candidate pairs at or above this."),
    ] = 0.5,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the candidates to this .csv or .parquet.")
    ] = None,
) -> None:
    """Match the admitted pool to a register with its saved model."""
    from accord import formats
    from accord.linkage.predict import link
    from accord.linkage.store import load_model
    from accord.store import db

    name, path = _spec(spec)
    if not 0.0 <= min_probability <= 1.0:
        raise typer.BadParameter("use a probability from 0 to 1", param_hint="--min-probability")
    url = ready_database(database)
    with db.connect(url) as conn:
        model = load_model(conn, name)
    if model is None:
        raise AccordError(
            f"no linkage model for register {name}: run `accord link train {name}=FILE` first"
        )
    register = formats.load(path, "register")
    pool = _pool(url)
    candidates = link(model, pool, register, min_probability)
    if out_file is not None:
        _write(candidates, out_file)
    people = len(set(candidates.column("person_id").to_pylist()))
    out.print(
        f"{candidates.num_rows:,} candidate pair(s) at or above {min_probability:g} for "
        f"{people:,} of {pool.num_rows:,} pool members in register {name} "
        f"(model {model.id}, trained {model.trained_at:%Y-%m-%d})"
        + (f"; written to {out_file}" if out_file is not None else "")
    )


@app.command("evaluate")
def evaluate_cmd(
    scenario: Annotated[
        Path | None, typer.Option("--scenario", help="A scenario written by `accord synth`.")
    ] = None,
    labels: Annotated[
        bool,
        typer.Option(
            "--labels", help="Evaluate against reviewers' decisions in the database instead."
        ),
    ] = False,
    agreement: Annotated[
        str | None,
        typer.Option("--agreement", help="With --labels: only this agreement's reviews."),
    ] = None,
    database: DatabaseOption = None,
    register_names: Annotated[
        list[str] | None, typer.Option("--register", help="Only this register (repeatable).")
    ] = None,
    disclose_at: Annotated[
        float | None,
        typer.Option(
            "--disclose-at",
            help="Default 0.999 (with --labels --agreement: the agreement's).",
            show_default=False,
        ),
    ] = None,
    review_from: Annotated[float, typer.Option("--review-from")] = 0.9,
    bits: Annotated[
        float,
        typer.Option("--ambiguity-bits", help="A rival this many bits behind is ambiguous."),
    ] = 10.0,
    margin: Annotated[float | None, typer.Option("--ambiguity-margin")] = None,
    max_wrong: Annotated[
        float | None,
        typer.Option("--max-wrong-person", help="Default: 1 - --disclose-at."),
    ] = None,
) -> None:
    """Precision, recall and F1 per threshold, and traps caught, against the scenario's truth;
    or, with --labels, precision per probability band and per pattern from reviewers'
    decisions, with Wilson 95% intervals.

    Uses each register's saved model; a register without one gets a model trained for
    this evaluation only (not saved).
    """
    from accord import formats
    from accord.linkage import evaluate as ev
    from accord.linkage import model as m
    from accord.linkage.predict import link
    from accord.linkage.store import load_model
    from accord.store import db

    if labels == (scenario is not None):
        raise typer.BadParameter("give exactly one of --scenario DIR or --labels")
    if agreement is not None and not labels:
        raise typer.BadParameter("--agreement goes with --labels", param_hint="--agreement")
    for label, value in (
        ("--disclose-at", disclose_at),
        ("--review-from", review_from),
        ("--ambiguity-margin", margin),
        ("--max-wrong-person", max_wrong),
    ):
        if value is not None and not 0.0 <= value <= 1.0:
            raise typer.BadParameter("use a number from 0 to 1", param_hint=label)
    if not 0.0 <= bits <= 64.0:
        raise typer.BadParameter("use a number of bits from 0 to 64", param_hint="--ambiguity-bits")
    url = ready_database(database)
    if scenario is None:
        evaluate_labels(url, register_names or [], agreement, disclose_at)
        return
    disclose_at = 0.999 if disclose_at is None else disclose_at
    targets = ev.scenario_registers(scenario, register_names)
    pool = ev.load_scenario_pool(scenario)
    for target in targets:
        register = formats.load(target.register, "register")
        with db.connect(url) as conn:
            model = load_model(conn, target.name)
        note = f"model {model.id}" if model is not None else "a model trained for this evaluation"
        if model is None:
            model = m.train(target.name, pool, register)
        candidates = link(model, pool, register, min(0.5, review_from))
        truth = ev.read_truth(target.truth, target.name)
        result = ev.evaluate(
            target.name, candidates, truth, pool,
            disclose_at=disclose_at, review_from=review_from, ambiguity_bits=bits,
            ambiguity_margin=margin, max_wrong_person=max_wrong,
        )  # fmt: skip
        table = Table(
            "threshold", "pairs", "correct", "precision", "recall", "F1",
            title=f"{target.name}: {register.num_rows:,} records, {pool.num_rows:,} people, "
            f"{note}",
        )  # fmt: skip
        for q in result.by_threshold:
            table.add_row(
                f">= {q.threshold:g}", f"{q.predicted:,}", f"{q.correct:,}",
                f"{q.precision:.4f}", f"{q.recall:.4f}", f"{q.f1:.4f}",
            )  # fmt: skip
        a = result.automatic
        assert a is not None and result.traps is not None
        table.add_row(
            "automatic", f"{a.predicted:,}", f"{a.correct:,}", f"{a.precision:.4f}",
            f"{a.recall:.4f}", f"{a.f1:.4f}",
        )  # fmt: skip
        out.print(table)
        t = result.traps
        out.print(
            f"{target.name}: {t.planted:,} namesake traps planted; {t.candidates:,} matched "
            f"someone, {t.held:,} of them caught (held for review), "
            f"{t.automatic:,} matched automatically"
        )
        for person, record in result.wrong_automatic:
            out.print(f"  wrong automatic match: {person} -> {record}")


register_commands(app)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="link")
