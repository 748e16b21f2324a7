"""Experiments: iterative magnitude pruning with its controls, transfers and branches
(``lottery.py``) and the controls' initial weights (``controls.py``)."""
