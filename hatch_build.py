"""Puts into the wheel the web files the service serves (paths.WEB_DIR): the top-level
modules, the demo's pages and the operators' page (ops/, with its chart library).
force-include of the whole folder would also carry the npm package's node_modules, its
types and tests, and the example app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SERVED = ("*.js", "demo/*", "demo-art/*", "ops/*")
DESTINATION = "pg_social_notifications/_data/web"


class WebFilesHook(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        web = Path(self.root) / "web"
        for pattern in SERVED:
            for path in sorted(web.glob(pattern)):
                if path.is_file():
                    build_data["force_include"][str(path)] = f"{DESTINATION}/{path.relative_to(web)}"
