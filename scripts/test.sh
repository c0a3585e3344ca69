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

# The oldest supported MLflow server (docs/servers-and-authentication.md), in a venv of its own, kept in a
# cache folder and reused when it is already there. SQLAlchemy 2.1 dropped a name 2.9.2 imports.
# boto3: that server (and MLflow's own client) talks to the S3 API of the artifact-store tests.
MLFLOW_OLDEST=2.9.2
oldest_venv="${XDG_CACHE_HOME:-$HOME/.cache}/steprun-widgets/mlflow-$MLFLOW_OLDEST"
if ! "$oldest_venv/bin/python" -c "import mlflow, sys; sys.exit(mlflow.__version__ != '$MLFLOW_OLDEST')" \
    >/dev/null 2>&1; then
  echo "== installing MLflow $MLFLOW_OLDEST (the oldest supported server) into $oldest_venv"
  rm -rf "$oldest_venv"
  python -m venv "$oldest_venv"
  "$oldest_venv/bin/python" -m pip install -q --disable-pip-version-check \
    "mlflow==$MLFLOW_OLDEST" "sqlalchemy<2.1" boto3
fi
if ! "$oldest_venv/bin/python" -c "import boto3" >/dev/null 2>&1; then
  "$oldest_venv/bin/python" -m pip install -q --disable-pip-version-check boto3
fi

# The oldest and the newest supported Python, each in a venv of its own in the cache folder for the
# quick subset (core client, local runner and embedded server, widgets' kernel side). A venv is made
# again only when pyproject.toml changed (its digest is kept in the venv). The tests run from this
# checkout (PYTHONPATH), not from the copy of the package installed with the dependencies.
PY_VERSIONS=(3.10 3.13)
QUICK_SUBSET=(tests/core tests/local/test_flow.py tests/local/test_portable.py
              tests/local/test_embedded_default.py::test_two_folders_reach_one_per_user_server
              tests/widgets/test_widget_run.py)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/steprun-widgets"
find_python() {  # version -> an interpreter of that version (PATH, then pyenv), or nothing
  local v=$1 found
  for found in "$(command -v "python$v" || true)" "$HOME"/.pyenv/versions/"$v".*/bin/python; do
    if [ -x "$found" ] && "$found" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$v'.split('.'))))"; then
      echo "$found"; return 0
    fi
  done
  return 1
}
digest=$(sha256sum pyproject.toml | cut -c1-16)
for v in "${PY_VERSIONS[@]}"; do
  venv="$cache/py$v"
  if [ "$(cat "$venv/.pyproject-digest" 2>/dev/null)" != "$digest" ]; then
    interpreter=$(find_python "$v") || { echo "No Python $v (PATH or pyenv): install it (pyenv install $v)" >&2; exit 1; }
    echo "== installing the quick subset's dependencies for Python $v into $venv"
    rm -rf "$venv"
    "$interpreter" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check ".[local,s3]" pytest pytest-timeout hypothesis
    echo "$digest" > "$venv/.pyproject-digest"
  fi
done

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

# The documentation site, strictly: a warning, a broken link or reference fails. It executes the
# quickstart and teaching notebooks (their embedded server gets a temp STEPRUN_HOME and is stopped
# at the end). It builds in the background, beside the test lanes (it mostly waits on its
# pipelines); tests/browser/test_docs_site.py waits for it, then opens the site offline in Chromium.
docs_pid=""
if [ "$#" -eq 0 ]; then
  echo "== docs: sphinx-build -W --keep-going -n (executes the notebooks), in the background"
  rm -rf docs/_build/html docs/_build/status docs/_build/sphinx.log
  mkdir -p docs/_build
  ( status=0
    python -m sphinx -W --keep-going -n -q docs docs/_build/html >docs/_build/sphinx.log 2>&1 || status=$?
    echo "$status" >docs/_build/status ) &
  docs_pid=$!
  export STEPRUN_DOCS_HTML="$PWD/docs/_build/html" STEPRUN_DOCS_STATUS="$PWD/docs/_build/status"
fi

# Two lanes at once, each its own pytest process with its own MLflow server: the browser tests and
# the benchmarks (timing-sensitive: they stay one at a time, in one lane), and everything else
# followed by the server matrix (the `servers` subset against MLflow 2.9.2). Most of the suite
# waits on servers, subprocesses and polls rather than the CPU, so on two cores the lanes overlap
# well. Arguments (a narrower run) give one lane of exactly what they name, then the matrix.
run_lane() {  # name, log file, pytest arguments... (lines go out live, prefixed with the lane)
  local name=$1 log=$2; shift 2
  python -m pytest -q -p no:cacheprovider -rfEs --durations=12 "$@" 2>&1 | tee "$log" | sed -u "s/^/[$name] /"
}
matrix() {  # log file, pytest arguments...
  local log=$1; shift
  local rc=0
  STEPRUN_TEST_MLFLOW_PYTHON="$oldest_venv/bin/python" \
    python -m pytest -q -p no:cacheprovider -rfEs -m servers "$@" 2>&1 | tee "$log" | sed -u "s/^/[matrix] /" \
    || rc=$?
  # Exit 5 (no test selected): the arguments narrowed the run to tests outside the subset.
  [ "$rc" -ne 5 ] || rc=0
  return "$rc"
}
versions() {  # log file, pytest arguments (default: the quick subset)... on every PY_VERSIONS venv
  local log=$1; shift
  local rc=0 v
  [ "$#" -gt 0 ] || set -- "${QUICK_SUBSET[@]}"
  for v in "${PY_VERSIONS[@]}"; do
    PYTHONPATH="$PWD" "$cache/py$v/bin/python" -m pytest -q -p no:cacheprovider -rfEs -m "not browser and not bench" \
      "$@" 2>&1 | tee -a "$log" | sed -u "s/^/[py$v] /" || rc=$?
  done
  [ "$rc" -ne 5 ] || rc=0
  return "$rc"
}
logs=$(mktemp -d)
ui_status=0; rest_status=0; matrix_status=0; quiet_status=0; versions_status=0
echo "== Python tests (real MLflow server, real runner processes, JupyterLab + Chromium)"
if [ "$#" -eq 0 ]; then
  echo "   lane 1: tests/bench tests/browser; lane 2: the rest, then the server matrix (MLflow $MLFLOW_OLDEST), then the quick subset on Python ${PY_VERSIONS[*]}; then the timed benchmarks alone"
  # bench first: the browser tests' session Playwright would keep the benches' own from starting
  run_lane ui "$logs/ui.log" -m "not quiet" tests/bench tests/browser &
  ui_pid=$!
  run_lane rest "$logs/rest.log" --ignore=tests/browser --ignore=tests/bench &
  rest_pid=$!
  wait "$rest_pid" || rest_status=$?
  matrix "$logs/matrix.log" || matrix_status=$?
  # the quick subset on the oldest and newest Python, beside the browser lane
  versions "$logs/versions.log" || versions_status=$?
  wait "$ui_pid" || ui_status=$?
  # The benchmarks whose bar is a time (first render in Chromium) run last, alone: beside the
  # other lane this 2-core machine measured the same bundle about 1.6-2x slower (262 ms against 120-167 ms).
  run_lane quiet "$logs/quiet.log" -m quiet tests/bench || quiet_status=$?
else
  run_lane args "$logs/rest.log" "$@" || rest_status=$?
  matrix "$logs/matrix.log" "$@" || matrix_status=$?
fi
docs_status=0
if [ -n "$docs_pid" ]; then
  wait "$docs_pid" || true
  docs_status=$(cat docs/_build/status 2>/dev/null || echo 1)
  # Each executed notebook's kernel warns that it runs over TCP: noise, left out.
  grep -v 'Kernel is running over TCP' docs/_build/sphinx.log | sed 's/^/[docs] /' || true
  printf '== docs: sphinx-build exit %s\n' "$docs_status"
fi
status=0
for s in "$rest_status" "$ui_status" "$matrix_status" "$versions_status" "$quiet_status" "$docs_status"; do [ "$s" -eq 0 ] || status=$s; done

# The benchmarks' tables (each benchmark also writes its own to tests/bench/results/).
for table in tests/bench/results/*.txt; do
  [ -e "$table" ] || continue
  printf '\n== benchmark: %s\n' "$(basename "$table" .txt)"
  cat "$table"
done
# pytest's closing lines again, last, where readers of a CI log look for them.
for lane in rest ui matrix versions quiet; do
  [ -e "$logs/$lane.log" ] || continue
  grep -E '^(FAILED|ERROR) ' "$logs/$lane.log" | sed "s/^/== $lane: /" || true
  printf '== %s: %s\n' "$lane" "$(tail -n 1 "$logs/$lane.log")"
done
rm -rf "$logs"
exit "$status"
