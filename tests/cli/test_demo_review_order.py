"""The demo's simulated reviewers err on the same items in every demo of a scenario.

Review items have random ids; the seeded errors are drawn in the order the items are
judged, so that order must be what the items are about, not their ids (two demos of the
same scenario once recalled 33 and 34 disclosures).
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from accord import demo
from accord.synth import synthesise
from accord.vocab import ReviewKind

AS_OF = dt.date(2026, 1, 15)


def _items(scenario_records: pa.Table, ids: list[str]) -> pa.Table:
    """Open items about the scenario's first register records, with the given ids."""
    n = len(ids)
    recipients = scenario_records.column("register").to_pylist()[:n]
    kinds = [ReviewKind.UNCERTAIN_MATCH if i % 3 else ReviewKind.AMBIGUOUS_MATCH for i in range(n)]
    return pa.table(
        {
            "item_id": ids,
            "kind": [str(k) for k in kinds],
            "person_id": [str(p) for p in scenario_records.column("person_id").to_pylist()[:n]],
            "record_id": scenario_records.column("record_id").to_pylist()[:n],
            "recipient": recipients,
        }
    )


def test_items_are_judged_in_the_order_of_what_they_are_about(tmp_path: Path) -> None:
    scenario = synthesise(tmp_path / "s", 300, 2, AS_OF)
    records = pcsv.read_csv(scenario.truth_records, convert_options=pcsv.ConvertOptions(
        column_types={"person_id": pa.string(), "record_id": pa.string(),
                      "register": pa.string()}))  # fmt: skip
    records = records.filter(pc.is_valid(records.column("person_id")))
    n = 60
    orders = []
    for seed in (1, 2, 3):
        rng = random.Random(seed)
        ids = [f"RV-{rng.getrandbits(64):016x}" for _ in range(n)]
        items = _items(records, ids)
        about = {
            row["item_id"]: (row["kind"], row["person_id"], row["recipient"], row["record_id"])
            for row in items.to_pylist()
        }
        judged = demo._truth_for_items(scenario, items)
        assert judged.num_rows == n
        orders.append([about[i] for i in judged.column("item_id").to_pylist()])
    assert orders[0] == orders[1] == orders[2]
    assert orders[0] == sorted(orders[0])
