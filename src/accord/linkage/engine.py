"""Which engine links a register: DuckDB on this machine, or Spark (issue 21).

The choice is per register, in the settings (``ACCORD_LINKAGE_ENGINES``, JSON):
``{"bank": "spark"}`` links the bank's register on Spark and every other on DuckDB;
``"*"`` names the engine of every register not named.  Both engines run the same model,
the same feature SQL (:mod:`accord.linkage.features`) and the same blocking rules, and
hand the scored pairs to the same rivals and explanation (:mod:`accord.linkage.predict`);
docs/linkage.md#spark lists where they can still differ.
"""

from __future__ import annotations

import importlib.util
import shutil

from accord.config import Settings
from accord.errors import AccordError

DUCKDB = "duckdb"
SPARK = "spark"
ENGINES = (DUCKDB, SPARK)
EVERY_REGISTER = "*"


def engine_for(register: str, settings: Settings | None = None) -> str:
    """The engine the settings name for ``register`` (DuckDB unless one is named)."""
    s = settings or Settings()
    chosen = s.linkage_engines.get(register, s.linkage_engines.get(EVERY_REGISTER, DUCKDB))
    chosen = chosen.strip().lower()
    if chosen not in ENGINES:
        raise AccordError(
            f"ACCORD_LINKAGE_ENGINES names engine {chosen!r} for register {register}: "
            f"give one of {', '.join(ENGINES)}"
        )
    if chosen == SPARK:
        spark_available()
    return chosen


def spark_available() -> None:
    """Refuse, in one line, when Spark cannot start here: pyspark or Java missing."""
    if importlib.util.find_spec("pyspark") is None:
        raise AccordError(
            "linking on Spark needs pyspark: install Accord with its spark extra "
            "(pip install 'accord[spark]')"
        )
    if shutil.which("java") is None:
        raise AccordError(
            "linking on Spark needs Java (OpenJDK 17): none was found on PATH "
            "(Debian: apt-get install openjdk-17-jre-headless)"
        )
