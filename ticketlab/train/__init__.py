"""Training: the cohort trainer (``cohort.py``: M networks in lockstep, evaluation, sign
stability) and the MLP's exact fast paths behind it (``compaction.py`` drops units no member
can use, ``sparse.py`` trains sparse layers as block-sparse matrices). Importing it flushes
denormal floats to zero on the CPU, before torch starts its threads (``denormals.py``)."""

from ticketlab.train import denormals

denormals.flush()
