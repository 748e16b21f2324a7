#!/usr/bin/env bash
# Set up (a .venv with the pinned CPU torch and every extra: dev, docs, Ray, MLflow,
# TensorBoard; Debian's chromium for the report test) and run the checks: ruff (lint and
# format), mypy, then pytest. Arguments go to pytest, e.g. `./scripts/test.sh tests/unit`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q -c constraints.txt -e '.[dev,docs,ray,mlflow,tensorboard]'
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 \
    && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
export TICKETLAB_DATA="${TICKETLAB_DATA:-$(cd .. && pwd)/shared/data}"
export NO_MKDOCS_2_WARNING=1
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/python -m pytest -q "$@"
