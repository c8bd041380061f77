#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh machine, then runs it:
# lint, types, and pytest against a real PostgreSQL (embedded, or DATABASE_URL),
# real WebSockets and a real headless Chromium. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser).
if ! command -v chromium >/dev/null 2>&1; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev,bench]' 2>&1 \
  | grep -v "^WARNING: Location" || true

.venv/bin/ruff check .
.venv/bin/mypy
exec .venv/bin/pytest "$@"
