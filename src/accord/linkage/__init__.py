"""Linkage: matching the pool to each recipient's register with Splink, safely.

``model``      the Splink 5 comparisons, blocking rules and unsupervised training
``features``   the normalised values both sides are compared on
``predict``    candidate pairs with probabilities, rivals and explanations
``ambiguity``  the safety rules (uncertain, ambiguous, long residence) as one function
``store``      models in ``linkage_models``; the admitted pool
``candidates`` a register's candidates kept as Parquet, resumed, copied into ``matches``
``evaluate``   precision, recall and traps against a synthetic scenario's truth
``limits``     the numbers of labels learning needs (importing nothing)

See docs/linkage.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from accord.linkage.ambiguity import ambiguity_flags
    from accord.linkage.model import TrainedModel, train
    from accord.linkage.predict import link
    from accord.linkage.store import admitted_pool, load_model, load_or_train, save_model

# Each name is imported from its module when first asked for, so that importing one
# module of this package (``limits``, say, for the command line's defaults) does not
# load Splink and the store with it.
_HOMES = {
    "TrainedModel": "model",
    "admitted_pool": "store",
    "ambiguity_flags": "ambiguity",
    "link": "predict",
    "load_model": "store",
    "load_or_train": "store",
    "save_model": "store",
    "train": "model",
}

__all__ = [
    "TrainedModel",
    "admitted_pool",
    "ambiguity_flags",
    "link",
    "load_model",
    "load_or_train",
    "save_model",
    "train",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
