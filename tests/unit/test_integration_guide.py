"""docs/INTEGRATION.md stays true to the tree: every file of the example app it points
at exists, every setting it names is one the service reads, every import it shows is
one the npm package exports."""

from __future__ import annotations

import json
import re

import msgspec

from devkit.servers import REPO_ROOT
from pg_social_notifications.settings import Settings

GUIDE = (REPO_ROOT / "docs" / "INTEGRATION.md").read_text()
EXAMPLE = REPO_ROOT / "web" / "examples" / "nextjs"


def test_the_example_files_it_points_at_exist() -> None:
    named = set(re.findall(r"`((?:web/examples/nextjs/)?app/[\w\-/\[\]]+\.tsx?)`", GUIDE))
    assert len(named) >= 5, named
    for path in named:
        assert (EXAMPLE / path.removeprefix("web/examples/nextjs/")).is_file(), path


def test_the_settings_it_names_are_the_services() -> None:
    known = {Settings.env_name(f.name) for f in msgspec.structs.fields(Settings)}
    named = set(re.findall(r"NOTIFICATIONS_[A-Z_]+", GUIDE))
    assert named and named <= known, named - known


def test_the_imports_it_shows_are_exported() -> None:
    exports = json.loads((REPO_ROOT / "web" / "package.json").read_text())["exports"]
    named = set(re.findall(r'from "(pg-social-notifications[^"]*)"', GUIDE))
    assert named, "no imports found"
    for specifier in named:
        assert "." + specifier.removeprefix("pg-social-notifications") in exports, specifier
