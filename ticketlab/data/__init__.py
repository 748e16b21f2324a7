"""Data: datasets as tensors in memory (``datasets.py``), their file formats (``idx.py`` for
MNIST-style IDX, ``images.py`` for image folders, ``maxgroup.py`` for the synthetic
MaxGroup task) and where files are looked for (``paths.py``)."""
