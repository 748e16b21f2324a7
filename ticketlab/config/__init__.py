"""Experiment configuration: the schema, the presets, and loading with overrides.

A config is a tree of small dataclasses (``schema``). ``load_config`` builds one from a
preset name (``presets``) or a YAML file plus ``section.key=value`` overrides (``load``),
and rejects unknown keys and invalid values before any work starts. ``compat`` keeps the
meaning and identity hash of configs written under older protocols.
"""

from ticketlab.config.compat import LEGACY, NEUTRAL, PROTOCOL, TRAIN_NEUTRAL, with_protocol
from ticketlab.config.load import (
    BRANCH_KEYS,
    apply_override,
    branch_config,
    from_dict,
    load_config,
)
from ticketlab.config.presets import PRESETS, TRANSFER_DATASETS, preset
from ticketlab.config.schema import (
    AUGMENTS,
    BN_INITS,
    CONTROLS,
    DATA_ORDERS,
    DATASETS,
    DEVICES,
    GROUP_SIZES,
    INITS,
    INPUTS,
    OPTIMIZERS,
    OUTPUT_PRUNING,
    PRUNE_CRITERIA,
    PRUNE_METHODS,
    SUBSET_SAMPLINGS,
    Config,
    DataConfig,
    ExperimentConfig,
    MaxGroupConfig,
    ModelConfig,
    PruneConfig,
    TrainConfig,
    TransferConfig,
    check_dataset_name,
    display_setting,
)

__all__ = [
    "AUGMENTS",
    "BN_INITS",
    "BRANCH_KEYS",
    "CONTROLS",
    "DATASETS",
    "DATA_ORDERS",
    "DEVICES",
    "GROUP_SIZES",
    "INITS",
    "INPUTS",
    "LEGACY",
    "NEUTRAL",
    "OPTIMIZERS",
    "OUTPUT_PRUNING",
    "PRESETS",
    "PROTOCOL",
    "PRUNE_CRITERIA",
    "PRUNE_METHODS",
    "SUBSET_SAMPLINGS",
    "TRAIN_NEUTRAL",
    "TRANSFER_DATASETS",
    "Config",
    "DataConfig",
    "ExperimentConfig",
    "MaxGroupConfig",
    "ModelConfig",
    "PruneConfig",
    "TrainConfig",
    "TransferConfig",
    "apply_override",
    "branch_config",
    "check_dataset_name",
    "display_setting",
    "from_dict",
    "load_config",
    "preset",
    "with_protocol",
]
