#!/usr/bin/env bash
# Runs the test suite that `npm test` runs (jest: unit and integration
# projects; tsc and Biome do not depend on load) N times in a row while
# stress-ng keeps every CPU busy, as a shared CI machine is. A test that
# depends on timing instead of an event it observes shows up here.
#
#   scripts/stress-test.sh [runs] [jest arguments...]
#   scripts/stress-test.sh 5
#   scripts/stress-test.sh 10 tests/integration/worker.test.ts -t 'cut mid-stream'
#
# Environment: STRESS_CPUS (stress-ng CPU workers, default: one per CPU),
# STRESS_RUN_TIMEOUT (seconds one jest run may take, default 900).
#
# Bounded: each jest run is killed after STRESS_RUN_TIMEOUT, and stress-ng is
# given its own timeout covering all runs, so it ends by itself even if this
# script is killed with SIGKILL; normally the trap stops it on any exit.
# Installs the Debian package stress-ng when it is missing (as root).
set -euo pipefail

cd "$(dirname "$0")/.."

runs=${1:-5}
shift || true
case "$runs" in
'' | *[!0-9]*)
  echo "stress-test: the number of runs must be a positive integer, not '$runs'" >&2
  exit 2
  ;;
esac
[ "$runs" -ge 1 ] || {
  echo "stress-test: the number of runs must be at least 1" >&2
  exit 2
}
cpus=${STRESS_CPUS:-$(nproc)}
run_timeout=${STRESS_RUN_TIMEOUT:-900}

if ! command -v stress-ng >/dev/null 2>&1; then
  if [ "$EUID" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "stress-test: stress-ng is missing; install the Debian/Ubuntu package, e.g.:" >&2
    echo "  sudo apt-get install -y stress-ng" >&2
    exit 1
  fi
  echo "stress-test: installing stress-ng" >&2
  timeout 600 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends stress-ng >/dev/null
fi

# What `npm test` runs first: the OpenSSH binaries the integration tests drive.
bash scripts/ensure-test-tools.sh

stress_pid=
stop_stress() {
  if [ -n "$stress_pid" ]; then
    kill "$stress_pid" 2>/dev/null || true
    wait "$stress_pid" 2>/dev/null || true
    stress_pid=
  fi
}
trap stop_stress EXIT
trap 'stop_stress; exit 130' INT
trap 'stop_stress; exit 143' TERM

stress-ng --cpu "$cpus" --timeout "$((runs * (run_timeout + 60) + 60))s" --quiet &
stress_pid=$!
echo "stress-test: stress-ng --cpu $cpus (pid $stress_pid); $runs run(s) of: npx jest $*" >&2

passed=0
results=()
for run in $(seq 1 "$runs"); do
  started=$(date +%s)
  set +e
  timeout --kill-after=30 "$run_timeout" npx jest "$@"
  code=$?
  set -e
  took=$(($(date +%s) - started))
  if [ "$code" -eq 0 ]; then
    passed=$((passed + 1))
    results+=("run $run: passed (${took} s)")
  elif [ "$code" -eq 124 ] || [ "$code" -eq 137 ]; then
    results+=("run $run: timed out after ${run_timeout} s")
  else
    results+=("run $run: FAILED, exit $code (${took} s)")
  fi
done

stop_stress
printf '%s\n' "${results[@]}" >&2
echo "stress-test: $passed of $runs run(s) passed under stress-ng --cpu $cpus" >&2
[ "$passed" -eq "$runs" ]
