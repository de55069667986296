"""Settings, all read from the environment (see README.md for the full list).

With no environment at all the product runs embedded: SQLite and generated
secrets in the untracked ``data/`` folder. Production sets DEBUG=false and
provides SECRET_KEY, FIELD_ENCRYPTION_KEYS and a PostgreSQL DATABASE_URL.
"""

from __future__ import annotations

import ipaddress
import os
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from konnectify.envconfig import Env
from konnectify.secrets_file import read_or_create

env = Env()

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env.str("DATA_DIR", str(BASE_DIR / "data")))
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", True)

SECRET_KEY = env.str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false.")
    SECRET_KEY = read_or_create(DATA_DIR / "secret_key", "django")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS")

# Newest key first; older keys still decrypt, so keys can be rotated.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS")
if not FIELD_ENCRYPTION_KEYS and DEBUG:
    FIELD_ENCRYPTION_KEYS = [read_or_create(DATA_DIR / "field_encryption.key", "fernet")]

PUBLIC_BASE_URL = env.url("PUBLIC_BASE_URL", "http://127.0.0.1:8000")
# Where Stripe keys may be sent: the default origin, plus any other origins the operator
# lists (a stand-in such as localstripe for a demo or tests). A connection's api_base
# must be blank or one of these; the client refuses every other origin.
STRIPE_API_BASE = env.origin("STRIPE_API_BASE", "https://api.stripe.com")
STRIPE_API_ALLOWED_BASES = env.origins("STRIPE_API_ALLOWED_BASES", [STRIPE_API_BASE])
STRIPE_CONNECT_TIMEOUT = env.int("STRIPE_CONNECT_TIMEOUT", 10, minimum=1)
STRIPE_READ_TIMEOUT = env.int("STRIPE_READ_TIMEOUT", 80, minimum=1)
# HTTP request steps reach public addresses only (the outbound guard,
# stripe_connector/outbound.py); these let them reach more: networks in CIDR notation
# (10.0.0.0/8, fd00::/8, 127.0.0.1/32) and exact host names whose addresses are not checked.
HTTP_STEP_ALLOWED_NETWORKS = env.list("HTTP_STEP_ALLOWED_NETWORKS", [])
HTTP_STEP_ALLOWED_HOSTS = env.list("HTTP_STEP_ALLOWED_HOSTS", [])
for _network in HTTP_STEP_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network.strip(), strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"HTTP_STEP_ALLOWED_NETWORKS: {_network!r} is not a network (e.g. 10.0.0.0/8)."
        ) from None
HTTP_STEP_CONNECT_TIMEOUT = env.int("HTTP_STEP_CONNECT_TIMEOUT", 5, minimum=1)
HTTP_STEP_READ_TIMEOUT = env.int("HTTP_STEP_READ_TIMEOUT", 20, minimum=1)
# Our own pace per Stripe account and mode, in requests per second, shared by every
# process through the database (konnectify.platform.ratelimit): just under Stripe's
# published limits (test 25, live 100, search 20 per second), reads and writes counted together.
STRIPE_RATE_LIMIT_TEST = env.int("STRIPE_RATE_LIMIT_TEST", 24, minimum=1)
STRIPE_RATE_LIMIT_LIVE = env.int("STRIPE_RATE_LIMIT_LIVE", 95, minimum=1)
STRIPE_RATE_LIMIT_SEARCH = env.int("STRIPE_RATE_LIMIT_SEARCH", 19, minimum=1)
WEBHOOK_TOLERANCE_SECONDS = env.int("WEBHOOK_TOLERANCE_SECONDS", 300, minimum=1)
# How long each web process remembers a connection's signing secrets and status.
WEBHOOK_CONNECTION_CACHE_SECONDS = env.int("WEBHOOK_CONNECTION_CACHE_SECONDS", 5, minimum=0)
# PostgreSQL: the receiver's one statement is prepared once per database connection.
# Off behind a transaction-mode pooler that cannot keep prepared statements (PgBouncer
# before 1.21, or without max_prepared_statements).
WEBHOOK_PREPARED_STATEMENT = env.bool("WEBHOOK_PREPARED_STATEMENT", True)
WEBHOOK_SECRET_GRACE_HOURS = env.int("WEBHOOK_SECRET_GRACE_HOURS", 24, minimum=0)
RETENTION_DAYS = env.int("RETENTION_DAYS", 30, minimum=1)
# A dotted path, so that connections never imports workflows (imports flow one way).
# The task that handles a newly stored inbox event: called with (connection id, Stripe event id).
EVENT_DISPATCH_TASK = env.str("EVENT_DISPATCH_TASK", "workflows.tasks.dispatch_delivered")
# Workflow step retries: exponential backoff with equal jitter (seconds), bounded
# attempts; never past Stripe's 24 h idempotency window whatever these say.
WORKFLOW_RETRY_BASE_SECONDS = env.int("WORKFLOW_RETRY_BASE_SECONDS", 2, minimum=1)
WORKFLOW_RETRY_CAP_SECONDS = env.int("WORKFLOW_RETRY_CAP_SECONDS", 600, minimum=1)
WORKFLOW_RETRY_MAX_ATTEMPTS = env.int("WORKFLOW_RETRY_MAX_ATTEMPTS", 8, minimum=1)
# A retry due within this many seconds is waited for by the worker itself;
# longer backoffs go to the sweeper (about once a minute).
WORKFLOW_RETRY_INLINE_SECONDS = env.int("WORKFLOW_RETRY_INLINE_SECONDS", 15, minimum=0)
# The hard ceiling of attempts of one step, counted when a worker claims it (so an
# attempt whose outcome was lost, a killed worker or a failed save, counts too).
# Past it the step fails and nothing is sent again. A little above the retry
# policy's own maximum, which only counts attempts whose failure was recorded.
WORKFLOW_MAX_ATTEMPTS = env.int("WORKFLOW_MAX_ATTEMPTS", 10, minimum=1)

# --- failure alerts (workflows.alerts) ---------------------------------------------------
# Email through Django's backend, from django-environ's email URL: the console (the
# worker's log) unless set, e.g. smtp+tls://user:password@mail.example.com:587.
globals().update(env.email("EMAIL_URL", "consolemail://"))  # EMAIL_BACKEND, EMAIL_HOST...
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", "konnectify@localhost")
# Who is emailed when a run fails, unless its workflow lists its own addresses.
ALERT_EMAILS = env.emails("ALERT_EMAILS")
# A Slack-compatible incoming webhook ({"text": ...}); a secret, never shown or logged.
ALERT_CHAT_WEBHOOK_URL = env.optional_url("ALERT_CHAT_WEBHOOK_URL", schemes=("https", "http"))
ALERT_CHAT_TIMEOUT_SECONDS = env.int("ALERT_CHAT_TIMEOUT_SECONDS", 10, minimum=1)
# One alert at once per workflow per this many minutes; later failures in the window
# are sent as one digest when it ends.
ALERT_DIGEST_MINUTES = env.int("ALERT_DIGEST_MINUTES", 15, minimum=1)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "django_jsonform",  # its React form editor's static files (the step and filter editors)
    # Project wiring (label "project", no models) and the shared platform code,
    # whose app label stays "konnectify" (its tables, migrations and permissions).
    "konnectify",
    "konnectify.platform",
    "stripe_connector",
    "connections",
    "workflows",
]

MIDDLEWARE = [
    # First: Stripe's deliveries need none of the rest (see its docstring).
    "connections.middleware.WebhookFirstMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Outside the view's transaction, which a 401 rolls back (see its docstring).
    "konnectify.platform.api.authentication.FailedTokenMiddleware",
    # Last, as django-axes asks: it answers a locked-out login with the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "konnectify.urls"
WSGI_APPLICATION = "konnectify.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

DATABASES = {"default": env.database("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the one writer; IMMEDIATE makes a writer wait
    # for the lock up front (busy timeout) instead of failing mid-transaction
    # with "database is locked" when the web app and the worker write at once.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test_db.sqlite3")}
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", 60, minimum=0))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["ATOMIC_REQUESTS"] = True

# A database cache is shared by every process, which the django-q2 cluster
# needs to publish its heartbeat (read by /healthz) when it uses the ORM broker.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "konnectify_cache",
    }
}

# /healthz fails when a task has waited this long for a worker (a stuck cluster).
HEALTH_QUEUE_STALL_SECONDS = env.int("HEALTH_QUEUE_STALL_SECONDS", 300, minimum=1)

# --- Prometheus metrics: GET /metrics (konnectify.platform.metrics) -----------------------
# Every process (web and task workers) keeps its counters in files here, summed when
# scraped (prometheus_client's multiprocess mode, which reads this variable when first
# imported, so it is set here; the processes `manage.py serve` starts inherit it). `serve`
# empties the folder when the product starts.
METRICS_DIR = Path(env.str("PROMETHEUS_MULTIPROC_DIR", str(DATA_DIR / "metrics")))
METRICS_DIR.mkdir(parents=True, exist_ok=True)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(METRICS_DIR)
# Clients in these networks read /metrics without an API token (their address as
# TRUSTED_PROXY_COUNT says to read it); anyone else needs a token. Default: this host.
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", ["127.0.0.1/32", "::1/128"])
for _network in METRICS_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"METRICS_ALLOWED_NETWORKS: {_network!r} is not a network (e.g. 10.0.0.0/8)."
        ) from None
REDIS_URL = env.str("REDIS_URL")
Q_TIMEOUT = env.int("Q_TIMEOUT", 120, minimum=1)
Q_RETRY = env.int("Q_RETRY", 300, minimum=2)
Q_CLUSTER = {
    "name": "konnectify",
    "workers": env.int("Q_WORKERS", 2, minimum=1),
    "timeout": Q_TIMEOUT,
    "retry": Q_RETRY,
    # Our engine decides about retries (backoff, idempotency keys); the broker
    # must not re-run a failed task on its own.
    "ack_failures": True,
    "max_attempts": 1,
    "catch_up": False,
    # Runs and step runs record every outcome; django-q2 keeps failed tasks
    # only. Pruning saved successes cost its monitor ~70% of its time (measured).
    "save_limit": -1,
    "label": "Background tasks",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = env.url("REDIS_URL", REDIS_URL, schemes=("redis", "rediss"))
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["poll"] = 0.2

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- throttling failed logins and API tokens ---------------------------------------------
# Reverse proxies in front that append the client's address to X-Forwarded-For (nginx:
# proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for). 0: clients connect to
# gunicorn directly and REMOTE_ADDR is theirs. konnectify.platform.client_ip reads it for
# every throttle.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", 0, minimum=0)
# Admin logins (django-axes): this many failures for one username from one address lock
# that pair out for LOGIN_LOCKOUT_MINUTES (the right password included); each failure
# while locked starts the wait again; a successful login clears the count.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", 10, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "konnectify.platform.client_ip.client_ip"
AXES_LOCKOUT_CALLABLE = "konnectify.platform.lockout.lockout_page"
# API tokens: this many failed bearer tokens from one address within the window answer
# 429 with Retry-After to that address's bearer requests (konnectify.platform.api.authentication).
API_TOKEN_FAILURE_LIMIT = env.int("API_TOKEN_FAILURE_LIMIT", 20, minimum=1)
API_TOKEN_FAILURE_WINDOW_SECONDS = env.int("API_TOKEN_FAILURE_WINDOW_SECONDS", 600, minimum=1)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "konnectify.platform.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "konnectify.platform.api.permissions.ModelPermissions",
    ],
    "DEFAULT_PAGINATION_CLASS": "konnectify.platform.api.pagination.Pagination",
    # Lists filter with their django-filter FilterSet (filterset_class).
    "DEFAULT_FILTER_BACKENDS": ["konnectify.platform.api.filters.ListFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "konnectify.platform.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "konnectify.platform.api.errors.api_exception_handler",
    # DRF's JSON; a lone surrogate already stored is written as its escape, not a 500.
    "DEFAULT_RENDERER_CLASSES": ["konnectify.platform.api.renderers.JSONRenderer"],
    # JSON whatever Accept says (no 406); no ?format= (DRF's override of Accept): one
    # representation, and an unknown query parameter is a 400 naming it.
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": (
        "konnectify.platform.api.negotiation.FirstRendererUnlessAccepted"
    ),
    "URL_FORMAT_OVERRIDE": None,
    # DRF's three, with JSON read under the product's one bound (depth, finite numbers).
    "DEFAULT_PARSER_CLASSES": [
        "konnectify.platform.api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # Only for DRF's own throttles; ours read konnectify.platform.client_ip (the same rule).
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Konnectify API",
    "DESCRIPTION": "Drive Stripe connections, workflows, runs and the event inbox.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The REST API only (the webhook receiver is for Stripe, not for integrations).
    "PREPROCESSING_HOOKS": ["konnectify.platform.api.schema.only_api_paths"],
    # Several models have a "status"; each choice set gets its own name.
    "ENUM_NAME_OVERRIDES": {
        "ConnectionStatusEnum": "connections.api.CONNECTION_STATUS",
        "WebhookModeEnum": "connections.models.Connection.WebhookMode",
        "InboxEventStatusEnum": "connections.api.EVENT_STATUS",
        "RunStatusEnum": "workflows.models.RunStatus",
    },
}

LOG_LEVEL = env.str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # urllib3 logs whole URLs at DEBUG, query strings included (personal data).
    "loggers": {"django.db.backends": {"level": "INFO"}, "urllib3": {"level": "INFO"}},
}

if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
