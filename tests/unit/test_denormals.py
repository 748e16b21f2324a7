"""Denormal floats are flushed to zero in every compute thread, so long trainings keep their
speed; a process whose threads disagree is refused rather than run."""

import subprocess
import sys

import torch

from ticketlab.train import denormals


def test_every_thread_flushes_denormals_once_ticketlab_is_imported() -> None:
    assert denormals.state() == "flushed"
    tiny = torch.ones(2 * torch.get_num_threads(), 64, 64, dtype=torch.int32).view(
        torch.float32
    )  # float32's smallest denormal, as bits
    product = torch.bmm(tiny, torch.ones_like(tiny))
    assert torch.count_nonzero(product.view(torch.int32)) == 0


def test_threads_started_before_the_import_are_refused_with_what_to_do() -> None:
    code = (
        "import torch\n"
        "torch.set_num_threads(2)\n"
        "torch.bmm(torch.randn(8, 256, 256), torch.randn(8, 256, 256))  # starts the threads\n"
        "from ticketlab.train import denormals\n"
        "print(denormals.state())\n"
        "denormals.check()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode != 0
    assert done.stdout.strip() == "mixed"
    assert "Import ticketlab before any other torch work" in done.stderr
