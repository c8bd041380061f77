"""The values the browser shares with the service, written once on each side and held
equal here: web/notifications-protocol.js against the service's own constants."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from pg_social_notifications import close_codes, grouping, ws_messages
from pg_social_notifications.paths import TRIGGERS_DIR
from pg_social_notifications.schemas import MAX_MARK_READ_IDS, MAX_PAGE_SIZE
from tests.web.test_js_unit import NODE

REPO_ROOT = Path(__file__).resolve().parents[2]


def protocol_js() -> dict[str, Any]:
    script = ("import('./web/notifications-protocol.js')"
              ".then((m) => console.log(JSON.stringify(m)))")
    out = subprocess.run([NODE, "--input-type=module", "-e", script], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=30, check=True).stdout
    values: dict[str, Any] = json.loads(out)
    return values


def test_close_codes_limits_messages_and_the_anonymous_actor_match() -> None:
    js = protocol_js()
    python_codes = {name: value for name, value in vars(close_codes).items()
                    if name.startswith("CLOSE_")}
    # CLOSE_TOO_SLOW <-> tooSlow: the same names, each in its language's spelling.
    js_codes = {"CLOSE_" + re.sub(r"([A-Z])", r"_\1", name).upper(): value
                for name, value in js["CLOSE"].items()}
    js_codes["CLOSE_IDLE"] = js_codes.pop("CLOSE_TIMEOUT")  # an idle socket or a late auth
    assert js_codes == python_codes

    tags = {cls.__struct_config__.tag for cls in ws_messages.CHANGE_MESSAGES}
    assert set(js["CHANGE_TYPES"]) == tags

    assert js["MAX_MARK_READ_IDS"] == MAX_MARK_READ_IDS
    assert js["MAX_PAGE_SIZE"] == MAX_PAGE_SIZE
    assert js["ACTOR_SAMPLE"] == grouping.ACTOR_SAMPLE
    rules = (TRIGGERS_DIR / "notification_rules.sql").read_text()
    anonymous = re.search(r"coalesce\(u\.handle::text, '([^']+)'\)", rules)
    assert anonymous is not None and js["ANONYMOUS"] == anonymous.group(1)
