"""Linkage: matching the pool to each recipient's register with Splink, safely.

``model``      the Splink 5 comparisons, blocking rules and unsupervised training
``features``   the normalised values both sides are compared on
``predict``    candidate pairs with probabilities, rivals and explanations
``ambiguity``  the safety rules (uncertain, ambiguous, long residence) as one function
``store``      models in ``linkage_models``; the admitted pool
``candidates`` a register's candidates kept as Parquet, resumed, copied into ``matches``
``evaluate``   precision, recall and traps against a synthetic scenario's truth

See docs/linkage.md.
"""

from accord.linkage.ambiguity import ambiguity_flags
from accord.linkage.model import TrainedModel, train
from accord.linkage.predict import link
from accord.linkage.store import (
    admitted_pool,
    load_model,
    load_or_train,
    save_model,
)

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
