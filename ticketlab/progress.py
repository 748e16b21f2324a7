"""Progress of a run as a tqdm bar: a widget in Jupyter, a redrawn line in a terminal, an
occasional line in a log file. The bar counts member-steps (one network trained one step);
its text names the round, the cohort and the latest validation accuracies."""

from __future__ import annotations

import sys
from typing import TextIO

from tqdm.auto import tqdm

from ticketlab.experiments.lottery import RoundProgress

LOG_EVERY = 30.0  # seconds between lines when the output is not a terminal


class ProgressBar:
    """An ``on_progress`` callback for ``ticketlab.run`` (and ``resume``, ``branch``)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.bar: tqdm | None = None

    def __call__(self, p: RoundProgress) -> None:
        if self.bar is None:
            tty = self.stream.isatty()
            self.bar = tqdm(
                total=p.work_total,
                unit=" steps",
                file=self.stream,
                mininterval=0.2 if tty else LOG_EVERY,
                dynamic_ncols=tty,
            )
        self.bar.set_description(f"round {p.round}/{p.rounds}", refresh=False)
        self.bar.set_postfix_str(describe(p.labels, p.progress.val_acc), refresh=False)
        self.bar.update(p.work_done - self.bar.n)
        if p.work_done >= p.work_total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def describe(labels: list[str], val_acc: list[float], shown: int = 3) -> str:
    """The cohort's first members, each with its latest validation accuracy when there is
    one, and how many more train beside them."""
    parts = [
        f"{name} {val_acc[i] * 100:.1f}%" if i < len(val_acc) else name
        for i, name in enumerate(labels[:shown])
    ]
    more = f" (+{len(labels) - shown} more)" if len(labels) > shown else ""
    return ("val acc: " if val_acc else "") + ", ".join(parts) + more
