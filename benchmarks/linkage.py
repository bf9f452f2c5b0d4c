"""Linkage at scale: Accord's linkage against a plain Splink 5 model, side by side.

    .venv/bin/python benchmarks/linkage.py [--people 100000] [--register-rows 1000000]
        [--register bank] [--seed 5] [--data DIR]

Writes (or reuses) an `accord synth` scenario, then runs each side in a fresh process so
that each one's peak memory is its own:

- **accord**: trains the register's model and saves it in a SQLite database (timed
  apart), then, in another process, loads the saved model and links the pool to the
  register: that link is the figure the target (under 20 s, at most 8 GB) is about;
- **plain**: a plain Splink 5 model on the same data: ``NameComparison`` on family and
  given names, ``DateOfBirthComparison``, ``PostcodeComparison``, names lower-cased,
  trained and predicted the way Splink's documentation does it.

Both are scored against the scenario's truth: precision and recall at several
thresholds, Accord's automatic band (at or above 0.999 and not ambiguous), and the
namesake traps each one would have acted on.  Prints the figures and the ratios.

``--baseline DIR`` (a checkout of earlier code: ``git worktree add /tmp/old-417501d
417501d`` for the code before issue 17's linkage work) also trains and links with that
code, in its own processes (``PYTHONPATH=DIR/src``, its own ``benchmarks/linkage.py
--side``), on the same data with its own saved model, and prints this code's figures over
the baseline's: wall time and CPU time (user + sys, all threads) of training and of the
link, medians of ``--repeats`` runs.  The machine may be shared: compare CPU times first.

    .venv/bin/python benchmarks/linkage.py --baseline /tmp/old-417501d --repeats 3

see docs/linkage.md ("Measured") for the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

TARGET_SECONDS = 20.0
TARGET_GB = 8.0
AS_OF = dt.date(2026, 1, 15)
THRESHOLDS = (0.9, 0.99, 0.999)


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024  # KiB on Linux


def prepare(args: argparse.Namespace) -> Path:
    """The scenario and its pool and register as Parquet, written once and reused."""
    from accord import formats
    from accord.linkage import evaluate
    from accord.synth import Mix, synthesise

    data = Path(args.data or tempfile.gettempdir()) / (
        f"accord-bench-linkage-{args.people}-{args.register_rows}-{args.seed}"
    )
    done = data / "ready.json"
    if done.is_file():
        return data
    t0 = time.perf_counter()
    scenario = synthesise(
        data / "scenario", args.people, args.seed, AS_OF, Mix(register_rows=args.register_rows)
    )
    pool = evaluate.load_scenario_pool(scenario.out)
    pq.write_table(pool, data / "pool.parquet")
    for name, path in scenario.registers.items():
        pq.write_table(formats.load(path, "register"), data / f"{name}.parquet")
        truth = evaluate.read_truth(scenario.truth_records, name)
        pq.write_table(truth, data / f"{name}.truth.parquet")
    done.write_text(json.dumps({"seconds": time.perf_counter() - t0}))
    return data


def score(
    candidates: pa.Table, truth: pa.Table, pool: pa.Table, automatic: str | None
) -> dict[str, Any]:
    """Precision and recall per threshold (and for a boolean column of automatic pairs)."""
    con = duckdb.connect()
    con.register("cand", candidates)
    con.register("truth", truth)
    con.register("pool", pool.select(["person_id"]))
    possible = con.execute(
        "SELECT count(*) FROM truth WHERE person_id IN (SELECT person_id FROM pool)"
    ).fetchall()[0][0]
    auto = automatic or "false"
    con.execute(
        f"""CREATE TABLE s AS SELECT c.match_probability AS p, {auto} AS automatic,
            t.person_id IS NOT DISTINCT FROM c.person_id AS correct,
            t.trap IS NOT NULL AND t.person_id IS NULL AS trap
        FROM cand c LEFT JOIN truth t USING (record_id)"""
    )
    out: dict[str, Any] = {"possible": possible, "thresholds": {}}
    bands = [(f">= {t:g}", f"p >= {t}") for t in THRESHOLDS]
    if automatic:
        bands.append(("automatic", "automatic"))
    for label, where in bands:
        n, ok, traps = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE correct), count(*) FILTER (WHERE trap) "
            f"FROM s WHERE {where}"
        ).fetchall()[0]
        precision = ok / n if n else 1.0
        recall = ok / possible if possible else 1.0
        out["thresholds"][label] = {
            "pairs": n, "correct": ok, "traps": traps, "precision": precision,
            "recall": recall,
            "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        }  # fmt: skip
    con.close()
    return out


def side_accord_train(data: Path, register: str) -> dict[str, Any]:
    from accord.linkage import model, store
    from accord.store import db

    pool = pq.read_table(data / "pool.parquet")
    reg = pq.read_table(data / f"{register}.parquet")
    url = f"sqlite:///{data / 'models.db'}"
    db.upgrade(url)
    t0 = time.perf_counter()
    trained = model.train(register, pool, reg, seed=1)
    seconds = time.perf_counter() - t0
    with db.connect(url) as conn:
        model_id = store.save_model(conn, trained, None)
    return {"train_seconds": seconds, "model_id": model_id, "peak_gb": peak_gb()}


def side_accord_link(data: Path, register: str) -> dict[str, Any]:
    from accord.linkage import link, load_model
    from accord.linkage.ambiguity import ambiguity_flags
    from accord.store import db

    pool = pq.read_table(data / "pool.parquet")
    reg = pq.read_table(data / f"{register}.parquet")
    truth = pq.read_table(data / f"{register}.truth.parquet")
    url = f"sqlite:///{data / 'models.db'}"
    with db.connect(url) as conn:
        saved = load_model(conn, register)
    assert saved is not None, "train first"
    t0, c0 = time.perf_counter(), time.process_time()
    candidates = link(saved, pool, reg, 0.5)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    memory = peak_gb()
    flags = ambiguity_flags(candidates, disclose_at=0.999, review_from=0.9, ambiguity_margin=0.05)
    scored = candidates.append_column("automatic", pc.equal(flags.column("decision"), "automatic"))
    return {
        "link_seconds": seconds, "link_cpu_seconds": cpu, "peak_gb": memory,
        "pairs": candidates.num_rows, "score": score(scored, truth, pool, "automatic"),
    }  # fmt: skip


def side_plain(data: Path, register: str) -> dict[str, Any]:
    import logging

    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    logging.getLogger("splink").setLevel(logging.ERROR)
    pool = pq.read_table(data / "pool.parquet")
    reg = pq.read_table(data / f"{register}.parquet")
    truth = pq.read_table(data / f"{register}.truth.parquet")
    con = duckdb.connect()
    con.register("pool_raw", pool)
    con.register("reg_raw", reg)
    tidy = (
        "lower(family_name) AS family_name, lower(given_names) AS given_names, "
        "date_of_birth, upper(postcode) AS postcode"
    )
    con.execute(f"CREATE TABLE pool_in AS SELECT person_id AS unique_id, {tidy} FROM pool_raw")
    con.execute(f"CREATE TABLE reg_in AS SELECT record_id AS unique_id, {tidy} FROM reg_raw")
    settings = SettingsCreator(
        link_type="link_only",
        comparisons=[
            cl.NameComparison("family_name"),
            cl.NameComparison("given_names"),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=False),
            cl.PostcodeComparison("postcode"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("family_name", "date_of_birth"),
            block_on("given_names", "date_of_birth"),
            block_on("postcode", "family_name"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    db_api = DuckDBAPI(connection=con)
    linker = Linker(
        [
            db_api.register("pool_in", dataset_display_name="pool"),
            db_api.register("reg_in", dataset_display_name="register"),
        ],
        settings,
        log_level=None,
    )
    t0 = time.perf_counter()
    training = linker.training
    training.estimate_probability_two_random_records_match(
        [block_on("family_name", "given_names", "date_of_birth")], recall=0.7
    )
    training.estimate_u_using_random_sampling(max_pairs=5e6, seed=1)
    training.estimate_parameters_using_expectation_maximisation(
        block_on("family_name", "given_names")
    )
    training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    train_seconds = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    table = con.sql(
        f"""SELECT CASE WHEN source_dataset_l = 'pool' THEN unique_id_l ELSE unique_id_r END
                AS person_id,
            CASE WHEN source_dataset_l = 'pool' THEN unique_id_r ELSE unique_id_l END
                AS record_id, match_probability
        FROM {predictions.physical_name}"""
    ).to_arrow_table()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "train_seconds": train_seconds, "predict_seconds": seconds, "predict_cpu_seconds": cpu,
        "peak_gb": peak_gb(), "pairs": table.num_rows, "score": score(table, truth, pool, None),
    }  # fmt: skip


SIDES = {"accord-train": side_accord_train, "accord-link": side_accord_link, "plain": side_plain}


def run_side(side: str, data: Path, register: str, code: Path | None = None) -> dict[str, Any]:
    """Run one side in a fresh process (with the code of checkout ``code``, if given);
    its result gains ``process_cpu_seconds``, the process's user + sys time."""
    script = Path(__file__) if code is None else code / "benchmarks" / "linkage.py"
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = str(code / "src")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        [sys.executable, str(script), "--side", side, "--data-dir", str(data),
         "--register", register],
        capture_output=True, text=True, check=False, env=env, cwd=code,
    )  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"side {side} failed (exit {proc.returncode})")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_cpu_seconds"] = (after.ru_utime - before.ru_utime) + (
        after.ru_stime - before.ru_stime
    )
    return result


def baseline_data(data: Path, baseline: Path) -> Path:
    """A folder beside ``data`` with the same Parquet files (linked) and the baseline's
    own database of saved models."""
    out = data.parent / f"{data.name}-baseline-{baseline.resolve().name}"
    out.mkdir(exist_ok=True)
    for f in data.glob("*.parquet"):
        if not (out / f.name).exists():
            (out / f.name).symlink_to(f.resolve())
    return out


def timed_runs(
    data: Path, register: str, repeats: int, code: Path | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    trains = [run_side("accord-train", data, register, code) for _ in range(repeats)]
    links = [run_side("accord-link", data, register, code) for _ in range(repeats)]
    return trains, links


def median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def print_baseline_ratios(
    trains: list[dict[str, Any]],
    links: list[dict[str, Any]],
    old_trains: list[dict[str, Any]],
    old_links: list[dict[str, Any]],
    baseline: Path,
) -> None:
    print(f"\nthis code / baseline {baseline} (medians of {len(trains)}; below 1 is faster):")
    for what, new, old, wall, cpu in (
        ("train", trains, old_trains, "train_seconds", "process_cpu_seconds"),
        ("link", links, old_links, "link_seconds", "link_cpu_seconds"),
    ):
        nw, ow, nc, oc = median(new, wall), median(old, wall), median(new, cpu), median(old, cpu)
        print(
            f"  {what:5}: wall {nw:.1f} s / {ow:.1f} s = {nw / ow:.2f}; "
            f"CPU {nc:.1f} s / {oc:.1f} s = {nc / oc:.2f}"
        )


def print_scores(name: str, s: dict[str, Any]) -> None:
    print(f"  {name}: {s['possible']:,} true pairs")
    for label, q in s["thresholds"].items():
        print(
            f"    {label:>10}: {q['pairs']:>8,} pairs  precision {q['precision']:.5f}  "
            f"recall {q['recall']:.4f}  F1 {q['f1']:.4f}  namesake traps {q['traps']:,}"
        )


def add_scenario_arguments(ap: argparse.ArgumentParser) -> None:
    """The arguments that name the scenario and its folder (:func:`prepare`), and the
    register linked; ``benchmarks/link_statements.py`` takes the same."""
    ap.add_argument("--people", type=int, default=100_000)
    ap.add_argument("--register-rows", type=int, default=1_000_000)
    ap.add_argument("--register", default="bank", choices=("dvla", "hmrc", "bank"))
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--data", help="where to keep the scenario (default: the temp folder)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    add_scenario_arguments(ap)
    ap.add_argument(
        "--baseline", type=Path, help="a checkout of earlier code to measure beside this one"
    )
    ap.add_argument("--repeats", type=int, default=1, help="runs of train and link (medians)")
    ap.add_argument("--side", choices=sorted(SIDES), help=argparse.SUPPRESS)
    ap.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:
        print(json.dumps(SIDES[args.side](Path(args.data_dir), args.register)))
        return

    data = prepare(args)
    pool_rows = pq.read_metadata(data / "pool.parquet").num_rows
    reg_rows = pq.read_metadata(data / f"{args.register}.parquet").num_rows
    print(f"data: {data} ({pool_rows:,} pool, {reg_rows:,} {args.register} records)")
    trains, links = timed_runs(data, args.register, args.repeats)
    trained, linked = trains[-1], links[-1]
    trained["train_seconds"] = median(trains, "train_seconds")
    linked["link_seconds"] = median(links, "link_seconds")
    linked["link_cpu_seconds"] = median(links, "link_cpu_seconds")
    plain = run_side("plain", data, args.register)

    print("\naccord (saved model, loaded in a fresh process):")
    print(
        f"  train {trained['train_seconds']:.1f} s wall, "
        f"{median(trains, 'process_cpu_seconds'):.1f} s CPU (once; reused until retrained)"
    )
    print(
        f"  link  {linked['link_seconds']:.1f} s wall, {linked['link_cpu_seconds']:.1f} s CPU, "
        f"peak memory {linked['peak_gb']:.2f} GB, {linked['pairs']:,} pairs >= 0.5"
    )
    print_scores("accord", linked["score"])
    print("\nplain Splink 5:")
    print(
        f"  train {plain['train_seconds']:.1f} s; predict {plain['predict_seconds']:.1f} s "
        f"wall, {plain['predict_cpu_seconds']:.1f} s CPU, peak memory {plain['peak_gb']:.2f} GB, "
        f"{plain['pairs']:,} pairs >= 0.5"
    )
    print_scores("plain", plain["score"])

    a, p = linked["score"]["thresholds"], plain["score"]["thresholds"]
    print("\nratios:")
    print(
        f"  accord link / target {TARGET_SECONDS:.0f} s: "
        f"{linked['link_seconds'] / TARGET_SECONDS:.2f}  "
        f"(memory {linked['peak_gb']:.2f} / {TARGET_GB:.0f} GB = "
        f"{linked['peak_gb'] / TARGET_GB:.2f})"
    )
    print(
        f"  accord link / plain predict: {linked['link_seconds'] / plain['predict_seconds']:.2f}"
        f"  (/ plain train + predict: "
        f"{linked['link_seconds'] / (plain['train_seconds'] + plain['predict_seconds']):.2f})"
    )
    for label in (">= 0.9", ">= 0.99", ">= 0.999"):
        precision = a[label]["precision"] / max(p[label]["precision"], 1e-9)
        recall = a[label]["recall"] / max(p[label]["recall"], 1e-9)
        print(
            f"  {label}: precision accord/plain {precision:.4f}, recall accord/plain {recall:.4f}"
        )
    auto = a["automatic"]
    print(
        f"  accord automatic band: precision {auto['precision']:.5f}, "
        f"recall {auto['recall']:.4f}, namesake traps acted on {auto['traps']} "
        f"(plain at >= 0.999: {p['>= 0.999']['traps']})"
    )
    if args.baseline:
        old_trains, old_links = timed_runs(
            baseline_data(data, args.baseline), args.register, args.repeats, args.baseline
        )
        print_baseline_ratios(trains, links, old_trains, old_links, args.baseline)


if __name__ == "__main__":
    main()
