"""Models: one file per family. ``mlp.py`` is LeNet-300-100 and its kin as plain parameter
dicts, stacked into cohorts."""
