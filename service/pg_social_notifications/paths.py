"""Where the files that ship with the service live: migrations, trigger files, named
queries and the web client.

In an installed wheel they are package data (`_data/`, see pyproject.toml), read
through importlib.resources; in a source checkout (an editable install, the test
suite) they are the repository's own `db/` and `web/`, so an edit needs no rebuild.
"""

from importlib.resources import files
from pathlib import Path


def _data_root() -> Path:
    shipped = files(__package__) / "_data"
    if shipped.is_dir():
        return Path(str(shipped))  # installed on a file system, not in a zip
    return Path(__file__).resolve().parents[2]  # service/pg_social_notifications/ → repo


DATA_ROOT = _data_root()
DB_DIR = DATA_ROOT / "db"
MIGRATIONS_DIR = DB_DIR / "migrations"
TRIGGERS_DIR = DB_DIR / "triggers"
QUERIES_DIR = DB_DIR / "queries"
HOST_SCHEMA_FILE = DB_DIR / "host" / "host_schema.sql"
WEB_DIR = DATA_ROOT / "web"
