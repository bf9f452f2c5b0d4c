"""Each linkage model the suite needs is trained once per test session, not once per test.

Most end-to-end tests run `accord run` (or the demo) on the same few synthetic scenarios,
in a fresh database each time, so each of them trained the same three Splink models again:
the largest single cost of the suite.  Training is reproducible (same register, pool,
register rows and seed give the same parameters; ``test_linkage`` checks that with the
real function), so the ``shared_training`` fixture (autouse, from ``conftest``) wraps
:func:`accord.linkage.model.train` with a cache keyed by a hash of exactly those inputs.

What a run does is unchanged: ``load_or_train`` still finds no model in the test's
database, still calls ``train`` and still saves the result; only the Splink estimation
inside is done once.  The first call with given inputs trains for real (so a fault in
training fails that test as before), errors are never cached, and each call gets a fresh
:class:`TrainedModel` stamped with the current time, as ``train`` returns.

The cache lives under the session's pytest temporary directory, shared by the xdist
workers (a lock per entry, so the second worker waits for the first instead of training
the same model again), and is never carried to another session.  Calling ``train``
directly by its imported name (``from accord.linkage.model import train``, as
``test_linkage`` and ``test_linkage_store`` do) bypasses the cache; a subprocess
(``python -m accord``) does not see it either.  ``ACCORD_TEST_TRAIN_EVERY_TIME=1`` turns
the cache off, to time the suite without it or to check that it changes no outcome.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from accord.linkage import model as m

Train = Callable[..., m.TrainedModel]
REAL_TRAIN: Train = m.train


def table_digest(table: pa.Table) -> str:
    """A hash of the table's schema and rows (its Arrow IPC stream, chunks combined)."""
    sink = pa.BufferOutputStream()
    combined = table.combine_chunks()
    with pa.ipc.new_stream(sink, combined.schema) as writer:
        writer.write_table(combined)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


class ModelCache:
    """Trained models by input hash: in memory for this process, as JSON for the others."""

    def __init__(self, directory: Path, real: Train) -> None:
        self.directory = directory
        self.real = real
        self.memory: dict[str, dict[str, object]] = {}
        self.trained = 0  # real trainings in this process
        self.reused = 0

    def key(self, register_name: str, pool: pa.Table, register: pa.Table, seed: int) -> str:
        parts = [str(m.MODEL_VERSION), register_name, str(seed)]
        parts += [table_digest(pool), table_digest(register)]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]

    def train(
        self, register_name: str, pool: pa.Table, register: pa.Table, seed: int = 1
    ) -> m.TrainedModel:
        key = self.key(register_name, pool, register, seed)
        entry = self.memory.get(key)
        if entry is None:
            path = self.directory / f"{key}.json"
            with locked(self.directory / f"{key}.lock"):
                if path.is_file():
                    entry = json.loads(path.read_text(encoding="utf-8"))
                else:
                    model = self.real(register_name, pool, register, seed=seed)
                    self.trained += 1
                    entry = {"settings": model.settings, "training_rows": model.training_rows}
                    text = json.dumps(entry)
                    if json.loads(text) != entry:  # not plain JSON: never reuse it
                        return model
                    scratch = path.with_suffix(".part")
                    scratch.write_text(text, encoding="utf-8")
                    os.replace(scratch, path)
                    self.memory[key] = json.loads(text)
                    return model
            self.memory[key] = entry
        self.reused += 1
        return m.TrainedModel(
            register=register_name,
            settings=copy.deepcopy(entry["settings"]),  # type: ignore[arg-type]
            trained_at=dt.datetime.now(dt.UTC),
            training_rows=int(entry["training_rows"]),  # type: ignore[call-overload]
            seed=seed,
        )


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> ModelCache:
    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker's base is pytest-N/popen-gwK/; the session's is pytest-N/.
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    directory = shared / "trained-models"
    directory.mkdir(exist_ok=True)
    return ModelCache(directory, REAL_TRAIN)


@pytest.fixture(autouse=True)
def shared_training(model_cache: ModelCache, monkeypatch: pytest.MonkeyPatch) -> None:
    """``accord.linkage.model.train`` reuses a model this session already trained."""
    if os.environ.get("ACCORD_TEST_TRAIN_EVERY_TIME") == "1":
        return
    monkeypatch.setattr(m, "train", model_cache.train)
