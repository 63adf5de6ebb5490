"""Tests: the real services when DATABASE_URL / REDIS_URL are set, else the embedded default."""

import os
from pathlib import Path

# Tests keep their files (SQLite database, pixel store, filesystem broker) apart from the demo's var/.
# One folder per test run (the worker process it starts is handed the same folder), so concurrent runs
# on one machine never delete each other's files.
os.environ.setdefault(
    "ATRIUM_VAR_DIR", str(Path(__file__).resolve().parents[3] / "var" / "test" / f"run-{os.getpid()}")
)

from atrium.settings.base import *  # noqa: F403
from atrium.settings.base import DATABASES, VAR_DIR
from atrium.settings.env import env_str

DEBUG = False
SECRET_KEY = "atrium-test-key"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# A worker process started by the tests must reach the test database, so SQLite's test database
# is a file, never in memory; ATRIUM_TEST_DB_NAME points the worker at the database the tests made.
if str(DATABASES["default"]["ENGINE"]).endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-atrium.sqlite3")}
_override = env_str("ATRIUM_TEST_DB_NAME", "")
if _override:
    DATABASES["default"]["NAME"] = _override

STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405 - whitenoise warns when it is missing
