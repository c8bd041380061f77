"""The npm package in web/: what `npm pack` ships, types generated from the service's
OpenAPI document and checked with tsc, and server rendering of the React bindings."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
NPM = ["npm", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"]

pytestmark = pytest.mark.timeout(300)


def run(args: list[str], cwd: Path = WEB) -> str:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=240,
                          env={**os.environ, "NO_UPDATE_NOTIFIER": "1"})
    assert done.returncode == 0, f"{' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed() -> Path:
    """The package's locked dev dependencies (typescript, openapi-typescript, react)."""
    if shutil.which("npm") is None:
        pytest.fail("npm is needed for the npm package's checks (scripts/test.sh installs it)")
    run([*NPM, "ci"])
    return WEB


def test_npm_pack_ships_the_modules_types_and_react_bindings_only(installed: Path) -> None:
    packed = json.loads(run([*NPM, "pack", "--dry-run", "--json"]))[0]
    files = {entry["path"] for entry in packed["files"]}
    assert packed["name"] == "pg-social-notifications"
    modules = {p.name for p in WEB.glob("*.js")}
    assert modules <= files, modules - files  # every module the service serves at /web/
    assert {"package.json", "react/index.js", "types/index.d.ts", "types/react.d.ts",
            "types/jsx.d.ts", "types/openapi.d.ts", "types/live-list.d.ts"} <= files
    # Nothing of the demo, the tests, the example app or node_modules.
    stray = {f for f in files if f.split("/")[0] in ("demo", "demo-art", "tests", "examples",
                                                     "node_modules")}
    assert not stray, stray
    manifest = json.loads((WEB / "package.json").read_text())
    for name, target in manifest["exports"].items():
        paths = [target] if isinstance(target, str) else list(target.values())
        for path in paths:
            assert path.removeprefix("./") in files, (name, path)


def test_the_api_types_are_generated_from_the_services_openapi_document(
        installed: Path, tmp_path: Path) -> None:
    """web/types/openapi.d.ts is openapi-typescript's output for `notifications openapi`
    today: a change to the API that is not regenerated fails here."""
    schema = tmp_path / "openapi.json"
    schema.write_text(run([sys.executable, "-m", "pg_social_notifications.cli", "openapi"], ROOT))
    generated = tmp_path / "openapi.d.ts"
    run(["npx", "openapi-typescript", str(schema), "-o", str(generated)])
    committed = (WEB / "types" / "openapi.d.ts").read_text()
    assert generated.read_text() == committed, (
        "web/types/openapi.d.ts is stale: notifications openapi > web/types/openapi.json"
        " && (cd web && npm run types:api)")


def test_a_hosts_typescript_compiles_against_the_declarations(installed: Path) -> None:
    """tsc over web/tests/types/usage.tsx: the client, the hook, the components and the
    tags in JSX type-check, and each misuse marked @ts-expect-error is an error."""
    run(["npx", "tsc", "-p", "tests/types/tsconfig.json"])


def test_the_react_bindings_render_on_a_server_without_dom_socket_or_network(
        installed: Path) -> None:
    assert "server rendering: ok" in run(["node", "tests/react/ssr.check.mjs"])
