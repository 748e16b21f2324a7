from pathlib import Path

import pytest
import yaml

from ticketlab.config import PRESETS, load_config, preset
from ticketlab.errors import ConfigError


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_are_valid_and_round_trip_through_yaml(name: str, tmp_path: Path) -> None:
    cfg = preset(name)
    f = tmp_path / "c.yaml"
    f.write_text(cfg.to_yaml())
    again = load_config(f)
    assert again.to_dict() | {"name": name} == cfg.to_dict()
    assert again.identity_hash() == cfg.identity_hash()


def test_seed_preset_matches_the_reference() -> None:
    c = preset("seed")
    assert (c.model.hidden, c.train.optimizer, c.train.lr) == ([300, 100], "adam", 1.2e-3)
    assert (c.train.epochs, c.train.batch_size, c.prune.p_final, c.prune.rounds) == (
        10,
        128,
        0.01,
        20,
    )
    assert c.train.total_steps(55_000) == 4300


def test_frankle_carbin_preset() -> None:
    c = preset("frankle-carbin")
    assert (c.train.batch_size, c.train.steps, c.prune.rate, c.prune.output_rate) == (
        60,
        50_000,
        0.2,
        0.1,
    )
    assert c.model.init == "glorot_normal" and c.data.val_size == 5000


def test_overrides_and_seeds() -> None:
    c = load_config(
        preset_name="seed", overrides=["train.lr=3e-3", "prune.rounds=5"], seeds=[0, 1, 2]
    )
    assert (c.train.lr, c.prune.rounds, c.seeds) == (3e-3, 5, [0, 1, 2])
    assert c.identity_hash() != preset("seed").identity_hash()


def test_schedule_keep_fraction() -> None:
    c = preset("seed")
    assert (1 - c.prune.round_rate()) ** c.prune.rounds == pytest.approx(0.01)


@pytest.mark.parametrize(
    "override, message",
    [
        ("prune.p_final=0", "p_final must be in (0, 1]"),
        ("prune.p_final=1.5", "p_final must be in (0, 1]"),
        ("prune.rounds=0", "prune.rounds must be an integer >= 1"),
        ("train.lr=0", "train.lr must be > 0"),
        ("train.lr=-1e-3", "train.lr must be > 0"),
        ("train.batch_size=0", "train.batch_size must be an integer >= 1"),
        ("train.batch_size=-5", "train.batch_size must be an integer >= 1"),
        ("data.dataset=imagenet", "data.dataset must be one of"),
        ("model.init=zeros", "model.init must be one of"),
        ("train.optimizer=rmsprop", "train.optimizer must be one of"),
        ("train.lr=fast", "train.lr must be a number"),
        ("train.colour=red", "unknown key 'train.colour'"),
        ("nosuch.key=1", "nosuch is not a config section"),
        ("train.lr", "expects KEY=VALUE"),
    ],
)
def test_invalid_values_are_rejected(override: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_config(preset_name="seed", overrides=[override])
    assert message in str(e.value)


def test_unknown_preset() -> None:
    with pytest.raises(ConfigError, match="unknown preset 'nope'; choose one of: quick, seed"):
        preset("nope")


def test_yaml_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: {lr: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(yaml.safe_dump({"train": {"learning_rate": 1e-3}}))
    with pytest.raises(ConfigError, match=r"unknown key\(s\) in train: learning_rate"):
        load_config(unknown)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")


def test_partial_yaml_takes_defaults(tmp_path: Path) -> None:
    f = tmp_path / "mine.yaml"
    f.write_text("prune: {rounds: 3}\nseeds: [4]\n")
    c = load_config(f)
    assert (c.name, c.prune.rounds, c.seeds, c.train.lr) == ("mine", 3, [4], 1.2e-3)


def test_p_final_and_rate_are_exclusive() -> None:
    with pytest.raises(ConfigError, match=r"exactly one of prune\.p_final"):
        load_config(preset_name="seed", overrides=["prune.rate=0.2"])


OLD_HASHES = {"quick": "7fa2648c", "seed": "899e9598", "frankle-carbin": "2a6c71c1"}
LEGACY_SET = [
    "experiment.data_order=fixed",
    "data.subset_sampling=legacy",
    "maxgroup.group_size=uneven",
]


@pytest.mark.parametrize("name", list(OLD_HASHES))
def test_new_keys_at_their_old_values_keep_the_old_hash(name: str) -> None:
    """Hashes computed by the code before protocol 2 (commit cfe3e9f): a config that asks
    for the old behaviour keeps its identity, so its default run directory still resumes."""
    old = load_config(preset_name=name, overrides=LEGACY_SET, seeds=[0])  # then: one seed
    assert old.identity_hash() == OLD_HASHES[name]
    assert preset(name).identity_hash() != OLD_HASHES[name]  # per_round data order


def test_unused_new_keys_do_not_change_the_hash() -> None:
    fc = preset("frankle-carbin")  # no subsets, no MaxGroup
    for key in ("maxgroup.group_size=uneven", "data.subset_sampling=legacy"):
        assert load_config(preset_name="frankle-carbin", overrides=[key]).identity_hash() == (
            fc.identity_hash()
        )
    quick = preset("quick")  # subsets and MaxGroup: both keys matter
    for key in ("maxgroup.group_size=uneven", "data.subset_sampling=legacy"):
        assert load_config(preset_name="quick", overrides=[key]).identity_hash() != (
            quick.identity_hash()
        )


def test_a_run_directory_from_protocol_1_keeps_its_meaning(tmp_path: Path) -> None:
    from ticketlab.store.rundir import RunDir

    run = tmp_path / "old-run"
    run.mkdir()
    (run / "config.yaml").write_text(
        (Path(__file__).parents[1] / "data" / "protocol1-config.yaml").read_text()
    )
    cfg = RunDir.open(run).config
    assert cfg.protocol == 1
    assert (cfg.experiment.data_order, cfg.data.subset_sampling, cfg.maxgroup.group_size) == (
        "fixed",
        "legacy",
        "uneven",
    )
    assert cfg.identity_hash() == "feed2a8d"  # its hash under the code that wrote it
    # A user's file with no protocol key is read with today's defaults.
    mine = tmp_path / "mine.yaml"
    mine.write_text("train: {lr: 0.003}\n")
    assert load_config(mine).experiment.data_order == "per_round"
    assert preset("seed").protocol == 2 and "protocol: 2" in preset("seed").to_yaml()


def test_milestone_past_the_end_of_training_is_refused():
    with pytest.raises(ConfigError, match=r"train.milestones has epoch 3, at or past the end"):
        load_config(preset_name="quick", overrides=["train.epochs=1", "train.milestones=[3]"])
    # With a fixed number of steps the length in epochs depends on the data: accepted here.
    load_config(preset_name="quick", overrides=["train.steps=10", "train.milestones=[3]"])


def test_every_config_key_has_a_description():
    from ticketlab.config.reference import reference_markdown, reference_rows

    rows = reference_rows()
    keys = {r[0] for r in rows}
    assert {"train.lr", "prune.p_final", "transfer.settings", "maxgroup.group_size"} <= keys
    assert all(doc for *_, doc in rows)
    page = reference_markdown()
    assert "| `train.lr` | `float` | `0.0012` | learning rate |" in page


def test_the_run_s_own_setting_on_its_own_dataset_is_refused(tmp_path: Path) -> None:
    adam = "{optimizer: adam, lr: 0.0012, epochs: 10, batch_size: 50}"  # label as train's
    for settings in ("null", f"[{adam}]"):
        with pytest.raises(ConfigError, match="named like train"):
            load_config(
                preset_name="seed",
                overrides=[
                    "transfer.datasets=[mnist]",
                    f"transfer.settings={settings}",
                ],
            )
