"""Where the SQL that ships with the service lives."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DB_DIR = REPO_ROOT / "db"
MIGRATIONS_DIR = DB_DIR / "migrations"
TRIGGERS_DIR = DB_DIR / "triggers"
QUERIES_DIR = DB_DIR / "queries"
HOST_SCHEMA_FILE = DB_DIR / "host" / "host_schema.sql"
