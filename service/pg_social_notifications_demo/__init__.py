"""The demo host site, a package of its own beside the service: `notifications serve
--demo` mounts it (pg_social_notifications.server); nothing of it is reachable otherwise.

NEVER in production: it creates host tables, seeds demo users, and signs a token for any
of them (`/demo/api/token`) with the service's own secret.

- `seed`: host tables, demo rows and tokens, printed at start;
- `routes`: the demo pages, the "act as another user" panel's API and the token endpoint;
- `route_handlers()`: all of it for the app, the demo's web folders included.
"""

from __future__ import annotations

from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from pg_social_notifications.paths import WEB_DIR
from pg_social_notifications.settings import Settings
from pg_social_notifications_demo.routes import demo_route_handlers
from pg_social_notifications_demo.seed import prepare_demo

# The demo's pages, script and art under /web/; the service's own /web/ router serves
# only the web client's top-level files.
DEMO_WEB_FOLDERS = ("demo", "demo-art")

__all__ = ["prepare_demo", "route_handlers"]


def route_handlers(settings: Settings, database_url: str) -> list[ControllerRouterHandler]:
    """The demo's routes and web folders, for `create_app(extra_handlers=...)`."""
    handlers = demo_route_handlers(settings, database_url)
    for folder in DEMO_WEB_FOLDERS:
        handlers.append(create_static_files_router(
            path=f"/web/{folder}", directories=[WEB_DIR / folder], name=f"demo-{folder}",
            include_in_schema=False))
    return handlers
