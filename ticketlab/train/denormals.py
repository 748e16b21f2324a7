"""Denormal (subnormal) floats flushed to zero on the CPU, in every thread.

Late in a long training, confident predictions push softmax probabilities, gradients and
Adam's second moments below float32's smallest normal number (1.2e-38). x86 CPUs handle
such denormal numbers in microcode: here a batched matrix product with denormal operands
ran 170x slower than with normal ones, and a 50,000-step `frankle-carbin` training fell to
about half its early speed. With flush-to-zero and denormals-are-zero set, they count as
zero: a change far below what float32 training resolves, the same on every rerun.

The flags belong to each thread, and a thread inherits its creator's when it starts. So
``flush`` runs when ``ticketlab.train`` is first imported, before torch starts its worker
threads; ``state`` reads what every worker does (``run.json`` records it), and ``check``
refuses a process whose threads disagree, where torch's workers started before ticketlab
was imported: its numbers would depend on which thread computed which part of a product.
"""

from __future__ import annotations

import torch

from ticketlab.errors import TicketlabError


def flush() -> bool:
    """Flush denormals in this thread and the threads it starts (False: the CPU can't)."""
    return torch.set_flush_denormal(True)


def state() -> str:
    """``flushed`` if every compute thread flushes denormals, ``kept`` if none, ``mixed``:
    read from an elementwise product and a batched matrix product of denormals, each large
    enough to be split over every thread. The denormal (float32's smallest, 1.4e-45) is
    written as bits and the results are read as bits, so nothing but the two products can
    flush it on the way."""
    threads = torch.get_num_threads()
    tiny = torch.ones(8 * threads, 128, 64, dtype=torch.int32).view(torch.float32)
    products = [tiny * 1.0, torch.bmm(tiny, torch.ones(8 * threads, 64, 128))]
    zero = torch.cat([(p.view(torch.int32) == 0).flatten() for p in products])
    if bool(zero.all()):
        return "flushed"
    return "kept" if not bool(zero.any()) else "mixed"


def check() -> str:
    """``state()``, refusing ``mixed``."""
    now = state()
    if now == "mixed":
        raise TicketlabError(
            "torch's worker threads were started before ticketlab was imported, so some "
            "flush denormal floats to zero and some do not, and results would depend on "
            "which thread computes what. Import ticketlab before any other torch work "
            "(at the top of the notebook or script), or run from the command line."
        )
    return now
