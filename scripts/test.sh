#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine, then runs every test:
# ruff, the frontend's unit tests and build check, and the Python suite (core, runner, widgets,
# browser end-to-end in JupyterLab + Chromium, benchmarks that print their tables).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v chromium >/dev/null 2>&1; then
  echo "== installing Chromium (Debian package) for the browser tests"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
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

# The benchmarks' tables (each benchmark also writes its own to tests/bench/results/).
for table in tests/bench/results/*.txt; do
  [ -e "$table" ] || continue
  printf '\n== benchmark: %s\n' "$(basename "$table" .txt)"
  cat "$table"
done
# pytest's closing line again, last, where readers of a CI log look for it.
printf '\n'
tail -n 1 "$log"
rm -f "$log"
exit "$status"
