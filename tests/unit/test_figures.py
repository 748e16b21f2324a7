"""Figures label the levels trained and name datasets as papers do."""

import matplotlib.pyplot as plt

from ticketlab.analysis.figures import MAX_TICKS, _panel, display, seeds_text


def test_the_x_axis_labels_the_levels_trained_first_and_last_included() -> None:
    rows = [
        {"round": r, "seed": 0, "control": c, "weights_remaining": 0.8**r, "es_test_acc": 0.9}
        for r in range(21)
        for c in (None, "reinit")
    ]
    fig, ax = plt.subplots()
    _panel(ax, rows)
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels()]
    plt.close(fig)
    assert labels[0] == "100" and labels[-1] == "1.2"  # 0.8**20 = 1.15%
    # 21 levels: every second one (a regular stride), at most MAX_TICKS labels.
    assert len(labels) <= MAX_TICKS and labels[1:3] == ["64", "41"]
    fig, ax = plt.subplots()
    _panel(ax, [r for r in rows if r["round"] % 2 == 0])  # 11 levels: every one labelled
    fig.canvas.draw()
    assert len([t.get_text() for t in ax.get_xticklabels()]) == 11
    plt.close(fig)


def test_display_names() -> None:
    assert [display(d) for d in ("fashion_mnist", "cifar10", "imagefolder:/data/pets")] == [
        "FashionMNIST",
        "CIFAR-10",
        "pets",
    ]
    assert (seeds_text(1), seeds_text(3)) == ("1 seed", "3 seeds")


def test_names_as_a_reader_writes_them() -> None:
    from ticketlab.config import display_setting
    from ticketlab.models.registry import display_model

    assert display_setting("sgd lr=0.01, 1 epochs") == "sgd lr=0.01, 1 epoch"
    assert display_setting("adam lr=0.0012, 10 epochs") == "adam lr=0.0012, 10 epochs"
    assert display_setting("adam lr=0.0012, 1 steps") == "adam lr=0.0012, 1 step"
    assert [display_model(n) for n in ("lenet_300_100", "conv4", "resnet56", "vgg16")] == [
        "LeNet-300-100",
        "Conv-4",
        "ResNet-56",
        "VGG-16",
    ]


def test_figure2_draws_the_main_dataset_only_under_the_settings_it_was_retrained_with(
    tmp_path,
) -> None:
    """MNIST tickets transferred to FashionMNIST under Adam and SGD, and retrained on MNIST
    under SGD only: the Adam figure has one panel, the SGD figure two, the grid one row per
    dataset (MNIST once)."""
    from ticketlab.analysis.figures import figure2

    def row(ds: str, setting: str, r: int, control: str | None) -> dict:
        return {
            "dataset": ds, "setting": setting, "round": r, "seed": 0, "control": control,
            "kind": "control" if control else "ticket", "weights_remaining": 0.8**r,
            "es_test_acc": 0.9,
        }  # fmt: skip

    trunk = "adam lr=0.0012, 10 epochs"
    sgd = "sgd lr=0.01, 3 epochs"
    rows = [
        row(ds, st, r, c)
        for ds, st in (
            ("mnist", trunk),
            ("fashion_mnist", trunk),
            ("fashion_mnist", sgd),
            ("mnist", sgd),
        )
        for r in (0, 1, 2)
        for c in (None, "reinit")
    ]
    paths = figure2(rows, "mnist", trunk, tmp_path)
    names = sorted(p.name for p in paths if p.suffix == ".png")
    assert names == [
        "figure2-adam-lr-0-0012-10-epochs.png",
        "figure2-grid.png",
        "figure2-sgd-lr-0-01-3-epochs.png",
    ]


def test_the_cost_figure_draws_sources_with_and_without_steps(tmp_path) -> None:
    """Drawn for IMP, a scoring source with no training steps (on log axes) and a search;
    nothing without a source."""
    from ticketlab.analysis.figures import cost_figure

    base = {"kind": "ticket", "dataset": "mnist", "setting": "s", "weights_remaining": 0.5}
    rows = [
        base
        | {"source": None, "round": r, "seed": 0, "wall_time_s": 10.0, "steps": 100}
        | {"es_test_acc": 0.9}
        for r in range(4)
    ]
    rows += [
        base
        | {"source": src, "round": r, "seed": 0, "mask_seconds": 0.5, "es_test_acc": 0.8}
        | {"mask_steps": steps * r}
        for r in (1, 2, 3)
        for src, steps in (("snip-layerwise", 0), ("earlybird", 60))
    ]
    paths = cost_figure(rows, tmp_path / "cost")
    assert tmp_path / "cost.png" in paths and all(p.is_file() for p in paths)
    assert cost_figure([r for r in rows if not r["source"]], tmp_path / "none") == []
