"""Settings, driven by the environment.

The same code runs the embedded default (no servers: SQLite file, database cache,
in-process channel layer fed from the events journal) and production
(``DATABASE_URL`` = PostgreSQL, ``REDIS_URL`` = Redis). See docs/configuration.md.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from apps.core.api.guide import API_DESCRIPTION

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("EXCHANGE_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


def env_list(name: str, default: str = "") -> list[str]:
    return [
        item.strip()
        for item in os.environ.get(name, default).split(",")
        if item.strip()
    ]


EXCHANGE_ENV = os.environ.get("EXCHANGE_ENV", "sandbox")
if EXCHANGE_ENV not in {"production", "sandbox"}:
    raise ImproperlyConfigured("EXCHANGE_ENV must be 'production' or 'sandbox'")
IS_PRODUCTION = EXCHANGE_ENV == "production"

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if IS_PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set in production")
    SECRET_KEY = "sandbox-insecure-secret-key-do-not-use-in-production"

# API secrets must be recoverable to verify HMAC signatures, so they are encrypted
# at rest with Fernet under a key that is separate from SECRET_KEY.
API_SECRET_ENCRYPTION_KEY = os.environ.get("API_SECRET_ENCRYPTION_KEY", "")
if not API_SECRET_ENCRYPTION_KEY:
    if IS_PRODUCTION:
        raise ImproperlyConfigured(
            "API_SECRET_ENCRYPTION_KEY must be set in production"
        )
    API_SECRET_ENCRYPTION_KEY = base64.urlsafe_b64encode(
        hashlib.sha256(b"api-secrets:" + SECRET_KEY.encode()).digest()
    ).decode()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# Addresses of reverse proxies whose X-Forwarded-For is believed (CIDR allowed).
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")

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
    "drf_spectacular_sidecar",
    "channels",
    "csp",
    "apps.core",
    "apps.accounts",
    "apps.apikeys",
    "apps.markets",
    "apps.orders",
    "apps.matching",
    "apps.web",
]

MIDDLEWARE = [
    "apps.core.middleware.RequestContextMiddleware",
    # Outside every other middleware, so that each /v1 answer (a redirect or
    # CSRF refusal included) carries the X-RateLimit-* headers.
    "apps.apikeys.middleware.RateLimitHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "exchange.urls"
WSGI_APPLICATION = "exchange.wsgi.application"
ASGI_APPLICATION = "exchange.asgi.application"

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

# --- Database -----------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
else:
    _db = dj_database_url.parse(f"sqlite:///{VAR_DIR / 'exchange.sqlite3'}")
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the single writer; IMMEDIATE transactions take
    # the write lock up front so two writers queue (busy timeout) instead of
    # failing with "database is locked" on a lock upgrade.
    _db["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a file too, so that a matcher subprocess sees the same database.
    _db["TEST"] = {"NAME": str(VAR_DIR / "test_exchange.sqlite3")}
elif _db["ENGINE"].startswith("django.db.backends.postgresql"):
    # Server-side parameter binding lets psycopg prepare statements it sees
    # repeatedly (prepare_threshold): the hot queries of the order path and
    # the matcher then skip planning, which cost more than executing them.
    if env_bool("DATABASE_SERVER_SIDE_BINDING", True):
        _db.setdefault("OPTIONS", {}).update(
            {"server_side_binding": True, "prepare_threshold": 5}
        )
DATABASES = {"default": _db}
IS_POSTGRES = _db["ENGINE"].startswith("django.db.backends.postgresql")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache, channel layer, Celery ------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
        }
    }
    # Redis pub/sub channels ignore the database number, so two exchanges on
    # one Redis server (parallel test runs, benchmarks) would hear each
    # other's market events: the prefix carries the URL's database.
    _redis_db = urlsplit(REDIS_URL).path.strip("/") or "0"
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": f"asgi.db{_redis_db}."},
        }
    }
else:
    # Shared by every process on the machine (API servers, matcher), unlike
    # LocMemCache: nonces and rate counters must hold across processes.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "exchange_cache",
            # Culling early would forget live nonces (replays) and rate counters;
            # entries expire with their windows anyway.
            "OPTIONS": {"MAX_ENTRIES": 1_000_000},
        }
    }
    # In-process layer; matcher events reach it through the events journal relay.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True

# --- Auth, i18n, static ----------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# --- Browser security ------------------------------------------------------------
# No inline script anywhere (pages load their JavaScript from static/ and pass
# data in data- attributes; the API docs page is Swagger UI's split view), so
# an injected <script> never runs. The WebSocket API is same-origin ('self').
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# Session and CSRF cookies only over HTTPS in production (TLS ends at the load
# balancer: SECURE_PROXY_SSL_HEADER below), never readable by scripts, and not
# sent on cross-site requests.
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", IS_PRODUCTION)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", IS_PRODUCTION)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
if env_bool("BEHIND_TLS_PROXY", IS_PRODUCTION):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Failed log-ins allowed per username and per client address in
# LOGIN_THROTTLE_PERIOD_S (apps/web/throttle.py); a success costs nothing.
LOGIN_THROTTLE_PER_USER = env_int("LOGIN_THROTTLE_PER_USER", 10)
LOGIN_THROTTLE_PER_IP = env_int("LOGIN_THROTTLE_PER_IP", 50)
LOGIN_THROTTLE_PERIOD_S = env_int("LOGIN_THROTTLE_PERIOD_S", 900)

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/settings/api-keys/"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
# Serve static files straight from the apps (no collectstatic step needed for
# the embedded default; production may still collectstatic behind a CDN).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- REST API ------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["apps.core.api.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "apps.core.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "apps.core.api.schema.ExchangeAutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Exchange API",
    "DESCRIPTION": API_DESCRIPTION,
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Exchange ------------------------------------------------------------------
# Bounded wait of POST /v1/orders for the matcher's result before answering pending.
ORDER_RESULT_TIMEOUT_MS = int(os.environ.get("ORDER_RESULT_TIMEOUT_MS", "1000"))
# Back-pressure: beyond this many unprocessed commands on a pair the API says 503.
MATCHER_MAX_QUEUE = int(os.environ.get("MATCHER_MAX_QUEUE", "10000"))

# The sandbox's simulated traders (docs/sandbox.md, "Simulated market").
# runexchange starts them in the sandbox unless SIMULATOR=0; never in production.
SIMULATOR = {
    "ENABLED": env_bool("SIMULATOR", True) and EXCHANGE_ENV == "sandbox",
    "URL": os.environ.get("SIMULATOR_URL", "http://127.0.0.1:8000"),
    # Orders + cancels per second per pair, every agent together: light enough
    # for a 2-core laptop (about 15 requests/s for the three sandbox pairs).
    "RATE": float(os.environ.get("SIMULATOR_RATE", "5")),
    "TAKER_RATE": float(os.environ.get("SIMULATOR_TAKER_RATE", "0.25")),
    "SEED": int(os.environ["SIMULATOR_SEED"])
    if os.environ.get("SIMULATOR_SEED")
    else None,
    # The agents' keys' IP allow-list (commas): loopback unless the simulator
    # trades on a sandbox server that sees it from another address.
    "ALLOW_IPS": os.environ.get("SIMULATOR_ALLOW_IPS", ""),
}
# How often one API process re-counts a pair's queue (the count is memoised).
MATCHER_QUEUE_CHECK_MS = int(os.environ.get("MATCHER_QUEUE_CHECK_MS", "250"))
MATCHER_POLL_INTERVAL_MS = int(os.environ.get("MATCHER_POLL_INTERVAL_MS", "50"))
# After a non-empty batch the matcher waits this long before taking the next,
# so that under load batches grow instead of paying their fixed cost per order.
MATCHER_LINGER_MS = int(os.environ.get("MATCHER_LINGER_MS", "10"))
# WebSocket streams (apps/markets/streams.py, docs/websocket.md).
WS_POLL_MS = int(os.environ.get("WS_POLL_MS", "50"))  # journal reader period
# With Redis the events arrive by pub/sub; the reader's poll is a safety net.
WS_POLL_REDIS_MS = int(os.environ.get("WS_POLL_REDIS_MS", "1000"))
WS_HEARTBEAT_MS = int(os.environ.get("WS_HEARTBEAT_MS", "5000"))
WS_QUEUE_LIMIT = int(os.environ.get("WS_QUEUE_LIMIT", "1000"))  # per subscription
WS_KEY_CHECK_MS = int(os.environ.get("WS_KEY_CHECK_MS", "500"))  # revocation reach
# WebSocket edge limits (apps/orders/ws_guard, docs/websocket.md "Limits and
# close codes"); 0 turns a limit off.
# Unsent bytes one connection may hold before it is closed 4008 (slow consumer).
WS_SEND_BUFFER_BYTES = int(os.environ.get("WS_SEND_BUFFER_BYTES", str(4 * 2**20)))
WS_MAX_CONNECTIONS_PER_IP = int(os.environ.get("WS_MAX_CONNECTIONS_PER_IP", "100"))
WS_MAX_CONNECTIONS_PER_KEY = int(os.environ.get("WS_MAX_CONNECTIONS_PER_KEY", "20"))
WS_MAX_FRAMES_PER_SECOND = int(os.environ.get("WS_MAX_FRAMES_PER_SECOND", "50"))
WS_FRAME_BURST = int(os.environ.get("WS_FRAME_BURST", "100"))
WS_MAX_FRAME_BYTES = int(os.environ.get("WS_MAX_FRAME_BYTES", str(64 * 2**10)))
# Origins a browser page may open /v1/ws from, besides ALLOWED_HOSTS
# (e.g. https://app.example.com); a client without an Origin header is no
# browser and is let in.
WS_ALLOWED_ORIGINS = env_list("WS_ALLOWED_ORIGINS")
# At most one ticker message per pair per this period (one read per process).
WS_TICKER_MS = int(os.environ.get("WS_TICKER_MS", "500"))
# A quiet market's candle closes this long after its bucket's end.
WS_CANDLE_CLOSE_MS = int(os.environ.get("WS_CANDLE_CLOSE_MS", "1000"))
# How often a standby (runmatcher --wait) tries to take its pairs' locks.
MATCHER_STANDBY_RETRY_MS = int(os.environ.get("MATCHER_STANDBY_RETRY_MS", "1000"))
# How often a matcher of all pairs (runmatcher without --pairs) looks for pairs
# listed since it started, and takes them (docs/matching-engine.md).
MATCHER_NEW_PAIRS_POLL_MS = int(os.environ.get("MATCHER_NEW_PAIRS_POLL_MS", "2000"))
FEE_ACCOUNT_USERNAME = "exchange-fees"
# Sandbox only (docs/sandbox.md): faucet claims per account per UTC day, and
# web sign-up (open in the sandbox; off unless set in production).
SANDBOX_FAUCET_CLAIMS_PER_DAY = int(
    os.environ.get("SANDBOX_FAUCET_CLAIMS_PER_DAY", "10")
)
SIGNUP_ENABLED = env_bool("SIGNUP_ENABLED", not IS_PRODUCTION)
# How long the private events journal (orders, fills, balances) keeps events
# for WebSocket resumes; never less than 24 (apps.accounts.services).
ACCOUNT_EVENTS_KEEP_HOURS = max(
    24, int(os.environ.get("ACCOUNT_EVENTS_KEEP_HOURS", "72"))
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}

SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] = {
    "ErrorCode": "apps.core.errors.ErrorCode",
    "Side": "apps.orders.models.Side",
}
