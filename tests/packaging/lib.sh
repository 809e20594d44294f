# Shared by the packaging tests (sourced): skip, fail and step, named after the test.
#   TEST_NAME="packaging test" STEP_NAME=packaging; . tests/packaging/lib.sh
# A skip prints "SKIPPED: reason" and exits 0 outside CI; in CI (CI=true) it fails, as
# nothing may be skipped there.
skip() {
  if [ "${CI:-}" = "true" ]; then
    echo "$TEST_NAME: FAILED: $1 (nothing may be skipped in CI)" >&2
    exit 1
  fi
  echo "SKIPPED: $1"
  exit 0
}
fail() {
  echo "$TEST_NAME: FAILED: $*" >&2
  exit 1
}
step() { echo "== $STEP_NAME: $*"; }
