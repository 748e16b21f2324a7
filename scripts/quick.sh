#!/usr/bin/env bash
# Set up (a .venv with the pinned CPU torch) and run the quick replication (about 3 minutes on 2 idle cores).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q -c constraints.txt -e .
export TICKETLAB_DATA="${TICKETLAB_DATA:-$(cd .. && pwd)/shared/data}"
.venv/bin/ticketlab run --preset quick "$@"
