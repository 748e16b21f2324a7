"""Analysis of finished runs: paired statistics (``stats.py``), figures (``figures.py``),
the HTML and Markdown report (``report.py``) and throughput benchmarks (``bench.py``)."""
