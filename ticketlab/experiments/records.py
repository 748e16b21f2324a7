"""One definition of a training's record: its fields in the order ``show --json`` prints
them, each with its role, and the fields of an evaluation point. The store's columns and
exports, the trackers' parameters and metrics and ``TrainingRecord.summary`` all read
these lists; ``differing_fields`` says whether two records are of one training's one result."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Roles: "param" (what was trained, and how: a tracker's parameters), "metric" (a scalar
# outcome: a tracker's metrics), "per_layer" (an object by weight tensor, JSON in the
# store), "other" (bookkeeping).
RECORD_FIELDS: tuple[tuple[str, str], ...] = (
    ("round", "param"),
    ("seed", "param"),
    ("kind", "param"),
    ("control", "param"),
    ("source", "param"),
    ("dataset", "param"),
    ("setting", "param"),
    ("optimizer", "param"),
    ("lr", "param"),
    ("momentum", "param"),
    ("batch_size", "param"),
    ("steps", "param"),
    ("precision", "param"),
    ("kernels", "per_layer"),  # what each weight tensor ran as, e.g. "block-sparse fp32"
    ("weights_remaining", "param"),
    ("weights_remaining_per_layer", "per_layer"),
    ("units_without_inputs", "per_layer"),
    ("final_test_acc", "metric"),
    ("final_test_loss", "metric"),
    ("final_val_acc", "metric"),
    ("es_step", "metric"),
    ("es_test_acc", "metric"),
    ("es_val_loss", "metric"),
    ("sign_flip_final", "metric"),
    ("sign_flip_es", "metric"),
    ("sign_flips_final", "per_layer"),
    ("sign_flips_es", "per_layer"),
    ("wall_time_s", "metric"),
    ("cohort_size", "other"),
    ("init_seed", "param"),
    ("data_seed", "param"),
    ("mask_seconds", "metric"),
    ("mask_passes", "metric"),
    ("mask_steps", "metric"),  # training steps spent finding the mask (IMP: its rounds)
    ("search_epochs", "metric"),  # an IMP source's search that made the mask: its epochs,
    ("search_steps", "metric"),  # steps
    ("search_examples", "metric"),  # and training examples
    ("search_distance", "metric"),  # early-bird: the largest d of its last window of epochs
    ("frozen_test_acc", "metric"),  # a learned mask's test accuracy on its frozen weights
    ("finished_at", "other"),  # set by the store when the record is committed
)
FIELDS = tuple(name for name, _ in RECORD_FIELDS)
# What two runs of one training may record differently (how long it took, how many networks
# shared its cohort, when it was stored): every other field is the training's own result.
RUN_DEPENDENT = frozenset({"wall_time_s", "cohort_size", "finished_at"})
# Derived from the evaluations when records are read: the test accuracy of a training's
# mask on its untrained starting weights (its step-0 evaluation), Zhou et al.'s supermask.
SUPERMASK = "supermask_acc"
PARAMS = tuple(name for name, role in RECORD_FIELDS if role == "param")
METRICS = tuple(name for name, role in RECORD_FIELDS if role == "metric")
PER_LAYER = tuple(name for name, role in RECORD_FIELDS if role == "per_layer")

# An evaluation point of a training, keyed by the training's id.
EVAL_FIELDS = (
    "training_id",
    "step",
    "val_loss",
    "val_acc",
    "test_loss",
    "test_acc",
    "sign_flip",
    "sign_flips",
)
EVAL_METRICS = ("val_loss", "val_acc", "test_loss", "test_acc", "sign_flip")


def differing_fields(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """The fields, sorted, in which two records of one training differ: none when they are
    the same training's same result. Compared: the fields both hold (an export made before
    a field was added lacks it; that is no disagreement), except what depends on the run
    that made them (``RUN_DEPENDENT``) and the branch that trained it (a run trains a
    training once, in the first of its branches to need it, so two runs may name different
    branches)."""
    fields = (a.keys() & b.keys()) - RUN_DEPENDENT - {"branch"}
    return sorted(k for k in fields if a[k] != b[k])
