"""Pruning: masks and the methods that make them (``magnitude.py``: layer-wise magnitude,
random, and the schedule of rates over rounds)."""
