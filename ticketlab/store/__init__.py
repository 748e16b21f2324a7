"""Storage: a run directory on disk (``rundir.py``: resolved config, run.json, SQLite
metrics, safetensors masks and weights, branches, locking and atomic writes)."""
