"""The operators' page's chart library is uPlot as npm ships it: the copy the service serves
(web/ops/, so no page asks another site for it) equals the files of the pinned devDependency."""

from __future__ import annotations

import json

from devkit.servers import REPO_ROOT

WEB = REPO_ROOT / "web"


def test_the_served_uplot_is_the_pinned_npm_release() -> None:
    pinned = json.loads((WEB / "package.json").read_text())["devDependencies"]["uplot"]
    installed = WEB / "node_modules" / "uplot"
    assert json.loads((installed / "package.json").read_text())["version"] == pinned
    for served, shipped in (("uPlot.iife.min.js", "dist/uPlot.iife.min.js"),
                            ("uPlot.min.css", "dist/uPlot.min.css"), ("uPlot.LICENSE", "LICENSE")):
        assert (WEB / "ops" / served).read_bytes() == (installed / shipped).read_bytes(), served
