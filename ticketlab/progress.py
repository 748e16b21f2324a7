"""A one-line progress display for long runs: round, cohort, step, accuracy, ETA."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from .experiment import RoundProgress


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}h{s // 60 % 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class ProgressDisplay:
    """Redraws one line on a terminal; prints a line every ``every`` seconds otherwise
    (logs, CI), so long runs show life without flooding."""

    def __init__(self, stream: TextIO = sys.stderr, every: float = 10.0) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.every = 0.2 if self.tty else every
        self.start = time.perf_counter()
        self.last = -1e9

    def __call__(self, p: RoundProgress) -> None:
        now = time.perf_counter()
        final = p.progress.step == p.progress.total
        if now - self.last < self.every and not final:
            return
        self.last = now
        elapsed = now - self.start
        frac = p.work_done / max(p.work_total, 1)
        eta = _clock(elapsed / frac * (1 - frac)) if frac > 0 else "?"
        acc = ""
        if p.progress.val_acc:
            acc = " val acc " + " ".join(f"{a * 100:.1f}" for a in p.progress.val_acc[:8])
        who = ", ".join(p.labels[:4]) + (f" +{len(p.labels) - 4}" if len(p.labels) > 4 else "")
        line = (
            f"round {p.round}/{p.rounds} [{who}] step {p.progress.step}/{p.progress.total}"
            f"{acc} | {frac * 100:.0f}% elapsed {_clock(elapsed)} ETA {eta}"
        )
        if self.tty:
            self.stream.write("\r\033[K" + line[:200] + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
