#!/usr/bin/env bash
# CI for MXNet Gluon in its own virtual environment (MXNet 1.9.1 needs numpy < 1.24; the main environment has
# numpy 2). Usage: .ci/gluon.sh [VENV_DIR]  (default: a fresh temporary directory, removed afterwards).
# Creates the venv from scratch, installs tracklet[gluon] with .ci/constraints-gluon.txt, and runs the Gluon
# tests plus the core tests that prove tracklet works on numpy 1.23 (tracking, stores, the autolog contract), and
# the Spark datasource lineage on pyspark 3.5 (the main environment tests pyspark 4).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"

if [ $# -ge 1 ]; then
  VENV="$1"
  rm -rf "$VENV"
else
  VENV="$(mktemp -d)/venv-gluon"
  trap 'rm -rf "$(dirname "$VENV")"' EXIT
fi

export PIP_DISABLE_PIP_VERSION_CHECK=1
python -m venv "$VENV"
"$VENV/bin/python" -m pip install -q -c .ci/constraints-gluon.txt -e ".[gluon,server]" pytest httpx pandas scikit-learn scipy \
  pyspark

export PYTHONPATH="$ROOT"
status=0
"$VENV/bin/python" -m pytest -q -p no:warnings \
  tests/integrations/test_gluon.py tests/flavors/test_gluon_flavor.py tests/tracking tests/stores || status=$?
# the contract suite for this integration only (the others are tested in the main environment)
"$VENV/bin/python" -m pytest -q -p no:warnings tests/autolog/test_contract.py -k gluon || status=$?
# the older stack of this environment also proves the Spark datasource lineage on pyspark 3.5 (main env: 4.x)
"$VENV/bin/python" -m pytest -q -p no:warnings tests/integrations/test_spark_datasource.py || status=$?
exit "$status"
