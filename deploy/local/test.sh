#!/usr/bin/env bash
# Runs every test of DriveNow on a throwaway PostgreSQL cluster (free port, torn down after).
# Exit code: 0 when everything passed. Extra arguments go to every pytest run (e.g. -x, -k name); `--lint-only`
# runs only the static checks (no database).
# With DN_TEST_DB_PORT set, uses that running server (user `drivenow`, password DN_TEST_DB_PASSWORD) instead of
# starting a cluster.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dn_venv
export PATH="$DN_VENV/bin:$PATH"

# The static checks: ruff's lint and format check over the repository (ruff.toml), mypy --strict on the contract
# package (its server half and test helpers included).
lint() {
  local rc=0
  dn_log "── lint: ruff check, ruff format --check"
  (cd "$DN_ROOT" && ruff check --quiet . && ruff format --check --quiet .) || rc=1
  dn_log "── contracts: mypy --strict"
  (cd "$DN_ROOT/contracts" && mypy) || rc=1
  return "$rc"
}

if [ "${1:-}" = "--lint-only" ]; then
  lint
  exit $?
fi

# nginx for the gateway tests (installed with apt-get when missing and running as root; else they skip).
if nginx_bin="$(dn_nginx)"; then
  export DN_NGINX="$nginx_bin"
else
  dn_log "no nginx: the gateway tests in deploy/tests will be skipped"
fi

# Headless Chromium and its driver for the planning board's browser test (inventory's fleet/tests/test_board_browser.py;
# Debian's chromium and chromium-driver, installed with apt-get when missing and running as root). Where they could
# be installed and were not, that test fails (DN_CHROMEDRIVER=missing); without root it skips, except in CI.
if chromedriver_bin="$(dn_chromium)"; then
  export DN_CHROMEDRIVER="$chromedriver_bin"
  DN_CHROMIUM="$(command -v chromium || echo /usr/bin/chromium)"
  export DN_CHROMIUM
elif [ "$(id -u)" = 0 ]; then
  export DN_CHROMEDRIVER=missing
else
  dn_log "no chromium: the planning board's browser test will be skipped (in CI it fails)"
fi

# Every cluster of the run (this one, the outage suite's own) asks for this password, as run.sh's does: the tests
# exercise password authentication. libpq and every service read it from the environment.
# promtool for the Prometheus config, alert rules and their unit tests in deploy/tests (Debian's prometheus
# package; its service is not started). Where it could be installed and was not, those tests fail; without root
# they skip.
if promtool_bin="$(dn_apt_tool promtool prometheus /usr/bin/promtool)"; then
  export DN_PROMTOOL="$promtool_bin"
elif [ "$(id -u)" = 0 ]; then
  export DN_PROMTOOL=missing
else
  dn_log "no promtool: the Prometheus rule tests in deploy/tests will be skipped"
fi

# The PDF invoice (booking's pricing/tests/test_invoice_pdf.py): WeasyPrint needs Pango, and the test opens the
# document with poppler's pdftotext and pdftoppm (Debian's poppler-utils). Missing where they could have been
# installed, that test fails (DN_PDFTOPPM=missing); without root it skips, except in CI.
dn_pango || true
if ! dn_apt_tool pdftoppm poppler-utils /usr/bin/pdftoppm >/dev/null; then
  if [ "$(id -u)" = 0 ]; then export DN_PDFTOPPM=missing; fi
fi

# Each suite's coverage data, read for its total after it ran (see run_covered).
covdata="$(mktemp -d /tmp/drivenow-coverage.XXXXXX)"
trap 'rm -rf "$covdata"' EXIT

if [ -n "${DN_TEST_DB_PORT:-}" ]; then
  port="$DN_TEST_DB_PORT"
  export DN_PG_PASSWORD="${DN_TEST_DB_PASSWORD:-${PGPASSWORD:-}}"
else
  export DN_PG_PASSWORD; DN_PG_PASSWORD="$(dn_secret)"
  cluster="$(mktemp -d /tmp/drivenow-test-pg.XXXXXX)"
  port="$(dn_free_port)"
  trap 'dn_pg_stop "$cluster"; rm -rf "$cluster" "$covdata"' EXIT
  dn_log "throwaway PostgreSQL on 127.0.0.1:$port ($cluster)"
  # fsync off: a throwaway cluster need not survive a power cut, and the suite runs faster.
  DN_PG_FSYNC=off dn_pg_start "$cluster" "$port"
fi
export INVENTORY_DB_HOST=127.0.0.1 INVENTORY_DB_PORT="$port" INVENTORY_DB_USER=drivenow
export BOOKING_DB_HOST=127.0.0.1 BOOKING_DB_PORT="$port" BOOKING_DB_USER=drivenow
export INVENTORY_DB_PASSWORD="$DN_PG_PASSWORD" BOOKING_DB_PASSWORD="$DN_PG_PASSWORD" PGPASSWORD="$DN_PG_PASSWORD"
export DN_TEST_PG_PORT="$port"

failed=()
run() {  # run NAME DIR COMMAND...: one suite in its own process
  local name="$1" dir="$2"; shift 2
  dn_log "── $name"
  local rc=0
  (cd "$DN_ROOT/$dir" && "$@") || rc=$?
  # pytest's 5 means "no tests collected", which is a failure here too
  [ "$rc" = 0 ] || failed+=("$name (exit $rc)")
}

# Line coverage of a suite's own code (pytest-cov; tests and the gunicorn processes the live tests start are not
# measured: deploy/local/coverage.ini). One line per suite after it, and the summary at the end.
totals=()
run_covered() {  # run_covered NAME DIR PACKAGES...  -- pytest arguments: run NAME's pytest measuring PACKAGES
  local name="$1" dir="$2"; shift 2
  local cov=() packages=() total
  while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do cov+=("--cov=$1"); packages+=("$1"); shift; done
  shift
  local data="$covdata/$name" rcfile="$DN_ROOT/deploy/local/coverage.ini"
  run "$name" "$dir" env COVERAGE_FILE="$data" pytest "${cov[@]}" --cov-config="$rcfile" --cov-report= "$@"
  if total="$(cd "$DN_ROOT/$dir" && COVERAGE_FILE="$data" coverage report --rcfile="$rcfile" --format=total 2>/dev/null)"; then
    dn_log "coverage of $name (${packages[*]}): $total %"
    totals+=("$name $total %")
  else
    totals+=("$name -")  # no data: every test deselected, or the suite did not start
  fi
}

run "lint" . lint
run_covered "inventory" inventory_project fleet config drivenow_contracts.server -- "$@"
# The contract itself; its server half is measured where it runs (the services' suites), the test helpers nowhere.
run_covered "contracts" contracts drivenow_contracts.client drivenow_contracts.dto drivenow_contracts.errors -- "$@"
run_covered "booking" booking_project rentals customers pricing payments config drivenow_contracts.server -- "$@"
run "deploy" deploy/tests pytest "$@"
# Known vulnerabilities in the pinned requirements; says NOT AUDITED (and passes) when no advisory source answers.
run "pip-audit" . python deploy/local/audit_requirements.py

dn_log "coverage: $(IFS=,; echo "${totals[*]}" | sed 's/,/, /g')"
if [ "${#failed[@]}" -gt 0 ]; then
  dn_log "FAILED: ${failed[*]}"
  exit 1
fi
dn_log "all suites passed"
