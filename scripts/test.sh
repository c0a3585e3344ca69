#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine, then runs every test:
# ruff, the frontend's unit tests and build check, and the Python suite (core, runner, widgets,
# browser end-to-end in JupyterLab + Chromium, benchmarks that print their tables), then the
# server matrix: the `servers` subset again against the oldest supported MLflow 2.x server.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Chromium for the browser tests; nginx for the TLS + path-prefix proxy in front of a test server.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== installing ${missing[*]} (Debian packages)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The oldest supported MLflow server (README: supported servers), in a venv of its own, kept in a
# cache folder and reused when it is already there. SQLAlchemy 2.1 dropped a name 2.9.2 imports.
MLFLOW_OLDEST=2.9.2
oldest_venv="${XDG_CACHE_HOME:-$HOME/.cache}/steprun-widgets/mlflow-$MLFLOW_OLDEST"
if ! "$oldest_venv/bin/python" -c "import mlflow, sys; sys.exit(mlflow.__version__ != '$MLFLOW_OLDEST')" \
    >/dev/null 2>&1; then
  echo "== installing MLflow $MLFLOW_OLDEST (the oldest supported server) into $oldest_venv"
  rm -rf "$oldest_venv"
  python -m venv "$oldest_venv"
  "$oldest_venv/bin/python" -m pip install -q --disable-pip-version-check \
    "mlflow==$MLFLOW_OLDEST" "sqlalchemy<2.1"
fi

echo "== installing the package with its test dependencies"
python -m pip install -q --disable-pip-version-check -e ".[dev]"

echo "== frontend: npm ci, unit tests, bundle up to date"
(cd js && npm ci --no-audit --no-fund --loglevel=error && npm test --silent && npm run build --silent)
if ! git diff --quiet -- steprun_widgets/widgets/static; then
  echo "The committed frontend bundle differs from a fresh build of js/: run 'npm run build' in js/ and commit." >&2
  git --no-pager diff --stat -- steprun_widgets/widgets/static >&2
  exit 1
fi

echo "== ruff"
python -m ruff check steprun_widgets tests

echo "== Python tests (real MLflow server, real runner processes, JupyterLab + Chromium)"
log=$(mktemp)
status=0
python -m pytest -q -p no:cacheprovider -rs --durations=15 "$@" 2>&1 | tee "$log" || status=$?

echo "== server matrix: the 'servers' subset against MLflow $MLFLOW_OLDEST"
matrix_log=$(mktemp)
matrix_status=0
STEPRUN_TEST_MLFLOW_PYTHON="$oldest_venv/bin/python" \
  python -m pytest -q -p no:cacheprovider -rs -m servers "$@" 2>&1 | tee "$matrix_log" || matrix_status=$?
# Exit 5 (no test selected): the arguments narrowed the run to tests outside the subset.
[ "$matrix_status" -ne 5 ] || matrix_status=0
[ "$status" -ne 0 ] || status=$matrix_status

# The benchmarks' tables (each benchmark also writes its own to tests/bench/results/).
for table in tests/bench/results/*.txt; do
  [ -e "$table" ] || continue
  printf '\n== benchmark: %s\n' "$(basename "$table" .txt)"
  cat "$table"
done
# pytest's closing lines again, last, where readers of a CI log look for them.
printf '\n== server matrix (MLflow %s): ' "$MLFLOW_OLDEST"
tail -n 1 "$matrix_log"
tail -n 1 "$log"
rm -f "$log" "$matrix_log"
exit "$status"
