"""Where a `--preset seed` round's time goes, for one seed, at several densities.

A round trains a cohort of 6 networks (ticket and re-init on MNIST, FashionMNIST and
MaxGroup: 4,300 steps each) and a cohort of 2 (CIFAR-10: 3,520 steps), evaluating every 215
steps on 5,000 validation and 10,000 test images. This times 430 steps of each cohort with
three evaluations, under magnitude masks of the given density, and extrapolates training
and evaluation to a full round:

    OMP_NUM_THREADS=2 .venv/bin/python scripts/profile_round.py
"""

from __future__ import annotations

import time
from dataclasses import replace

import torch

import ticketlab.train.mlp as trainer
from ticketlab.api import load_datasets
from ticketlab.config import preset
from ticketlab.models.mlp import MLPSpec, init_params
from ticketlab.pruning.magnitude import full_mask, prune_layerwise

STEPS = 430


def main() -> None:
    cfg = preset("seed")
    datasets = load_datasets(cfg)
    spec = MLPSpec((784, *cfg.model.hidden, 10))
    spent = [0.0]
    evaluate = trainer._Evaluator.__call__

    def timed(self: trainer._Evaluator, *args: object) -> object:
        t = time.perf_counter()
        out = evaluate(self, *args)
        spent[0] += time.perf_counter() - t
        return out

    trainer._Evaluator.__call__ = timed  # type: ignore[method-assign]
    print(f"torch threads {torch.get_num_threads()}; seconds per full training of the cohort")
    print("density  cohort       training  evaluation")
    for density in (1.0, 0.25, 0.1, 0.05, 0.01):

        def member(name: str, i: int, density: float = density) -> trainer.Member:
            mask = full_mask(spec)
            if density < 1:
                weights = init_params(spec, "pytorch_default", 100 + i)
                mask = prune_layerwise(weights, mask, dict.fromkeys(mask, 1 - density))
            return trainer.Member(init_params(spec, "pytorch_default", i), mask, datasets[name], i)

        cohorts = {
            "6 (55k)": [
                member(n, i) for n in ("mnist", "fashion_mnist", "maxgroup") for i in (0, 1)
            ],
            "2 (CIFAR)": [member("cifar10", i) for i in (0, 1)],
        }
        for label, members in cohorts.items():
            spent[0] = 0.0
            t = time.perf_counter()
            part = replace(cfg.train, steps=STEPS, eval_every=215)
            trainer.train_mlp(members, spec, part, torch.device("cpu"))
            total = time.perf_counter() - t
            steps = cfg.train.total_steps(len(members[0].data.train))
            training = (total - spent[0]) * steps / STEPS
            every = cfg.train.eval_every
            evaluation = spent[0] / 3 * (steps // every + 1 + (steps % every > 0))
            print(f"{density:6.0%}   {label:10} {training:9.1f} {evaluation:11.1f}", flush=True)


if __name__ == "__main__":
    main()
