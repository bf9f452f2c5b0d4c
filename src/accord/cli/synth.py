"""`accord synth`: write a synthetic scenario with its ground truth."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer

from accord.cli.common import AsOfOption, as_of_date, out

# The options' defaults and help are the mix's own, so this module imports the mix (and
# NumPy with its names); the writer comes in with the command.
from accord.synth import KINDS, REGISTERS, Mix
from accord.synth.mix import (
    DEFAULT_COVERAGE,
    DEFAULT_KINDS,
    DEFAULT_MONONYMS,
    DEFAULT_NAMESAKES,
    DEFAULT_NEAR_NAMESAKES,
    parse_shares,
)


def _listing(shares: Mapping[str, float]) -> str:
    return ",".join(f"{k}={v:g}" for k, v in shares.items())


def register(app: typer.Typer) -> None:
    @app.command("synth")
    def synth(
        people: Annotated[
            int, typer.Option("--people", help="How many of the source body's people.")
        ],
        out_dir: Annotated[Path, typer.Option("--out", help="Directory to write the scenario to.")],
        seed: Annotated[
            int, typer.Option("--seed", help="Seed: the same seed, the same files.")
        ] = 1,
        as_of: AsOfOption = None,
        mix: Annotated[
            str | None,
            typer.Option(
                "--mix",
                help=(
                    "Shares of people by kind, KIND=SHARE,...; kinds not named keep their "
                    f"proportions and fill the rest. Kinds: {', '.join(KINDS)}. Default: "
                    f"{_listing(DEFAULT_KINDS)}."
                ),
                show_default=False,
            ),
        ] = None,
        protected_address: Annotated[
            float,
            typer.Option(
                "--protected-address",
                help="Share of people whose newest address came from a school or health record.",
            ),
        ] = Mix.protected_address,
        quality_fault: Annotated[
            float,
            typer.Option(
                "--quality-fault",
                help="Share of people with no date of birth or two different ones on file.",
            ),
        ] = Mix.quality_fault,
        earlier_refusal: Annotated[
            float,
            typer.Option(
                "--earlier-refusal",
                help="Share of people holding leave who were refused before it was granted.",
            ),
        ] = Mix.earlier_refusal,
        departed_refused: Annotated[
            float,
            typer.Option(
                "--departed-refused",
                help="Share of people who left whose latest decision was a refusal.",
            ),
        ] = Mix.departed_refused,
        coverage: Annotated[
            str | None,
            typer.Option(
                "--coverage",
                help=(
                    "Chance an overstayer holds a record, per register, REGISTER=SHARE,... "
                    f"Default: {_listing(DEFAULT_COVERAGE)}."
                ),
                show_default=False,
            ),
        ] = None,
        namesakes: Annotated[
            str | None,
            typer.Option(
                "--namesakes",
                help=(
                    "Members of the public planted with a person's exact name and date of "
                    f"birth, per person and register. Default: {_listing(DEFAULT_NAMESAKES)}."
                ),
                show_default=False,
            ),
        ] = None,
        near_namesakes: Annotated[
            str | None,
            typer.Option(
                "--near-namesakes",
                help=(
                    "The same with a date of birth one day off. Default: "
                    f"{_listing(DEFAULT_NEAR_NAMESAKES)}."
                ),
                show_default=False,
            ),
        ] = None,
        noise: Annotated[
            float,
            typer.Option("--noise", help="Multiplier of every register noise rate (0 to 5)."),
        ] = Mix.noise,
        register_rows: Annotated[
            int | None,
            typer.Option(
                "--register-rows",
                help="Rows in each register (default 3 per person); most are the public.",
                show_default=False,
            ),
        ] = None,
        previous_known: Annotated[
            float,
            typer.Option(
                "--previous-known",
                help=(
                    "Of register records holding a person's earlier address, where the "
                    "casework holds an older address too: the share that hold that one."
                ),
            ),
        ] = Mix.previous_known,
        mononyms: Annotated[
            str | None,
            typer.Option(
                "--mononyms",
                help=(
                    "Share of people recorded with one name, per origin, ORIGIN=SHARE,... "
                    f"Default: {_listing(DEFAULT_MONONYMS)}."
                ),
                show_default=False,
            ),
        ] = None,
        mononym_as_family: Annotated[
            float,
            typer.Option(
                "--mononym-as-family",
                help="Share of one-name people whose records hold the name as family name.",
            ),
        ] = Mix.mononym_as_family,
        mononym_swapped: Annotated[
            float,
            typer.Option(
                "--mononym-swapped",
                help="Share of a one-name person's register records with it in the other field.",
            ),
        ] = Mix.mononym_swapped,
        mononym_doubled: Annotated[
            float,
            typer.Option(
                "--mononym-doubled",
                help="Share of a one-name person's register records with it in both fields.",
            ),
        ] = Mix.mononym_doubled,
    ) -> None:
        """Write a synthetic scenario: cases, registers, events, agreements and the truth."""
        from accord.synth import synthesise

        chosen = Mix(
            protected_address=protected_address,
            quality_fault=quality_fault,
            earlier_refusal=earlier_refusal,
            departed_refused=departed_refused,
            noise=noise,
            register_rows=register_rows,
            previous_known=previous_known,
            mononym_as_family=mononym_as_family,
            mononym_swapped=mononym_swapped,
            mononym_doubled=mononym_doubled,
        )
        if mix is not None:
            chosen = chosen.with_kinds(parse_shares(mix, "--mix"))
        if mononyms is not None:
            chosen = chosen.with_mononyms(parse_shares(mononyms, "--mononyms"))
        for option, name, text in (
            ("--coverage", "coverage", coverage),
            ("--namesakes", "namesakes", namesakes),
            ("--near-namesakes", "near_namesakes", near_namesakes),
        ):
            if text is not None:
                chosen = chosen.with_register_shares(name, parse_shares(text, option))
        started = time.perf_counter()
        scenario = synthesise(out_dir, people, seed, as_of_date(as_of), chosen)
        seconds = time.perf_counter() - started
        out.print(
            f"scenario of {people:,} {'person' if people == 1 else 'people'} (seed {seed}, "
            f"as of {scenario.as_of.isoformat()}) "
            f"written to {out_dir} in {seconds:.1f} s"
        )
        for name in ("cases", *REGISTERS, "events", "truth/people", "truth/records"):
            out.print(f"  {scenario.files[name]:<18} {scenario.rows[name]:>12,} rows")
        out.print(f"  agreements/        {len(REGISTERS):>12} files")
