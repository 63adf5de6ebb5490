"""Development and demo: DEBUG on, a fixed insecure key, everything on the embedded default."""

from atrium.settings.base import *  # noqa: F403
from atrium.settings.env import env_bool, env_list, env_str

DEBUG = env_bool("ATRIUM_DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY", "atrium-local-development-key-not-for-production")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])

# Serve app static files (the built tool bundle) straight from the apps while developing.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
