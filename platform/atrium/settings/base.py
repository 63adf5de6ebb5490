"""Settings shared by every environment. Environment-specific modules import * from here."""

from __future__ import annotations

from pathlib import Path

from atrium.settings.env import database_from_url, env_int, env_str

PLATFORM_DIR = Path(__file__).resolve().parents[2]
REPO_DIR = PLATFORM_DIR.parent
VAR_DIR = Path(env_str("ATRIUM_VAR_DIR", str(REPO_DIR / "var")))

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "channels",
    "atrium.accounts",
    "atrium.imaging",
    "atrium.studies",
    "atrium.annotations",
    "atrium.learning",
    "atrium.agreement",
    "annotation_ui",
]

MIDDLEWARE = [
    "atrium.observability.middleware.RequestLatencyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "atrium.security.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "atrium.urls"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
ASGI_APPLICATION = "atrium.asgi.application"
WSGI_APPLICATION = "atrium.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "/accounts/login/"
# Django's ModelBackend and database sessions, with the lookups every request makes done as plain queries
# (atrium.raw_rows): on a frame request the ORM's query building cost more than the frame.
AUTHENTICATION_BACKENDS = ["atrium.accounts.backends.AccountBackend"]
SESSION_ENGINE = "atrium.accounts.sessions"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database: PostgreSQL (psycopg 3) with DATABASE_URL, else SQLite in WAL mode -------------------
DATABASE_URL = env_str("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": database_from_url(DATABASE_URL)}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "atrium.sqlite3"),
            "OPTIONS": {
                # WAL lets the ASGI server and the worker read while the other writes.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            "CONN_MAX_AGE": 60,
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer and Celery, else in-memory layer and a filesystem broker --------------------
REDIS_URL = env_str("REDIS_URL", "")
CELERY_DIR = VAR_DIR / "celery"
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env_str("ATRIUM_CHANNEL_PREFIX", "atrium")},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    # Longer than the hard task time limit, so a long job is never handed to a second worker.
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 4 * 3600}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    # kombu's filesystem transport: a broker that needs no server, still consumed by a real worker.
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_DIR / "queue"),
        "data_folder_out": str(CELERY_DIR / "queue"),
        "processed_folder": str(CELERY_DIR / "processed"),
        "control_folder": str(CELERY_DIR / "control"),
        "store_processed": False,
    }
    CELERY_RESULT_BACKEND = f"file://{CELERY_DIR / 'results'}"

CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("ATRIUM_TASK_SOFT_TIME_LIMIT", 3 * 3600)
CELERY_TASK_TIME_LIMIT = env_int("ATRIUM_TASK_TIME_LIMIT", 3 * 3600 + 300)
CELERY_TASK_DEFAULT_QUEUE = "cpu"
CELERY_TASK_ROUTES = {
    "atrium.learning.tasks.run_gpu_job": {"queue": "gpu"},
    "atrium.learning.tasks.run_cpu_job": {"queue": "cpu"},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
ATRIUM_JOB_HEARTBEAT_S = env_int("ATRIUM_JOB_HEARTBEAT_S", 10)
ATRIUM_JOB_STALE_S = env_int("ATRIUM_JOB_STALE_S", 60)
ATRIUM_JOB_SWEEP_S = env_int("ATRIUM_JOB_SWEEP_S", 60)
ATRIUM_JOB_REQUEUE_S = env_int("ATRIUM_JOB_REQUEUE_S", 600)
ATRIUM_JOB_MAX_ATTEMPTS = env_int("ATRIUM_JOB_MAX_ATTEMPTS", 3)  # a job whose worker dies this often fails

# --- files ------------------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("ATRIUM_MEDIA_ROOT", str(VAR_DIR / "media")))
PIXEL_STORE_ROOT = MEDIA_ROOT / "pixels"
# Media storage: "filesystem" (MEDIA_ROOT is the only copy) or "s3" (S3-compatible object storage through
# django-storages is the durable copy; MEDIA_ROOT becomes a per-pod cache; see atrium/media_mirror.py).
ATRIUM_STORAGE = env_str("ATRIUM_STORAGE", "filesystem")
STORAGES: dict[str, dict[str, object]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if ATRIUM_STORAGE == "s3":
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL", "") or None,
            "region_name": env_str("AWS_S3_REGION_NAME", "") or None,
            "custom_domain": env_str("AWS_S3_CUSTOM_DOMAIN", "") or None,
            "access_key": env_str("AWS_ACCESS_KEY_ID"),  # or AWS_ACCESS_KEY_ID_FILE
            "secret_key": env_str("AWS_SECRET_ACCESS_KEY"),  # or AWS_SECRET_ACCESS_KEY_FILE
            "default_acl": None,
            "querystring_auth": True,  # patient data: signed, expiring URLs only
            "file_overwrite": False,
        },
    }
elif ATRIUM_STORAGE != "filesystem":
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"ATRIUM_STORAGE={ATRIUM_STORAGE!r} is not one of: filesystem, s3")
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024  # larger uploads stream to a temporary file
ATRIUM_MAX_UPLOAD_BYTES = env_int("ATRIUM_MAX_UPLOAD_BYTES", 2 * 1024**3)
ATRIUM_LOGIN_FAILURE_LIMIT = env_int("ATRIUM_LOGIN_FAILURE_LIMIT", 10)
ATRIUM_LOGIN_WINDOW_S = env_int("ATRIUM_LOGIN_WINDOW_S", 300)
# Uploads (the upload API and STOW-RS) per user: "<count>/<second|minute|hour|day>".
ATRIUM_UPLOAD_RATE = env_str("ATRIUM_UPLOAD_RATE", "120/hour")

# --- REST API ---------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its WWW-Authenticate header makes unauthenticated API calls a 401, not a 403.
        "atrium.accounts.tokens.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "atrium.api_errors.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_THROTTLE_RATES": {
        "uploads": ATRIUM_UPLOAD_RATE,
        "anon": "60/minute",
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Atrium API",
    "DESCRIPTION": "Cases, frames, annotations, models and jobs of the Atrium annotation platform.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "atrium.observability.json_logs.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": env_str("ATRIUM_LOG_FORMAT", "plain")}
    },
    "root": {"handlers": ["console"], "level": env_str("ATRIUM_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

ATRIUM_METRICS_TOKEN = env_str("ATRIUM_METRICS_TOKEN", "")
