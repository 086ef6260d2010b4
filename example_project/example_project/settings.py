"""Settings of the example project, all from the environment (see .env.example).

With no variable set it runs on SQLite against the fake gateway on 127.0.0.1:8030.
"""

import importlib.util
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="example-project-not-for-production")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rangefilter",
    "django_xunchen",
    "sms_demo",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "example_project.urls"
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
            ]
        },
    }
]
WSGI_APPLICATION = "example_project.wsgi.application"
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the poller and the task worker write to one file at once. WAL lets
    # readers go on while one process writes; a transaction takes the write lock when it
    # begins (IMMEDIATE), not half way, where SQLite could only refuse it; a writer waits
    # up to 20 s for another instead of failing at once with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = env("DJANGO_LANGUAGE_CODE", default="zh-hans")
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
TIME_ZONE = env("DJANGO_TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# Background sending on the database task engine (django-tasks-db, in the lock the demo
# installs): a worker process (`manage.py db_worker --queue-name '*'`) sends campaigns
# and background sends; a confirm only writes the rows.
if importlib.util.find_spec("django_tasks_db"):
    INSTALLED_APPS.append("django_tasks_db")
    TASKS = {
        "default": {
            "BACKEND": "django_tasks_db.DatabaseBackend",
            "QUEUES": ["default", "sms-codes"],
        }
    }

# Two gateway accounts, as most sites have: order notices (and marketing) on "default",
# verification codes on "codes", which falls back to "default" when it certainly could
# not send. In the demo both are logins on the local fake gateway.
XUNCHEN = {
    "BACKEND": env("XUNCHEN_BACKEND", default="django_xunchen.backends.xunchen.SMSBackend"),
    "BASE_URL": env("XUNCHEN_BASE_URL", default="http://127.0.0.1:8030"),
    "ENCODING": env("XUNCHEN_ENCODING", default="utf-8"),
    "POLL_INTERVAL": env.int("XUNCHEN_POLL_INTERVAL", default=180),
    # Where send outcomes wait if the database refuses them: persistent, per host.
    "SPOOL_DIR": env("XUNCHEN_SPOOL_DIR", default=str(BASE_DIR / "var" / "xunchen-spool")),
    "ACCOUNTS": {
        "default": {
            "USERNAME": env("XUNCHEN_USERNAME", default="JSM40001"),
            "PASSWORD": env("XUNCHEN_PASSWORD", default="123456"),
            "VERY_CODE": env("XUNCHEN_VERY_CODE", default="453245"),
            "SENDER_NUMBER": env("XUNCHEN_SENDER_NUMBER", default="106905994140010"),
            # Codes may fall back onto this account.
            "KINDS": ["notification", "marketing", "verification"],
        },
        "codes": {
            "USERNAME": env("XUNCHEN_CODES_USERNAME", default="JSM40002"),
            "PASSWORD": env("XUNCHEN_CODES_PASSWORD", default="654321"),
            "VERY_CODE": env("XUNCHEN_CODES_VERY_CODE", default="112233"),
            "SENDER_NUMBER": env("XUNCHEN_CODES_SENDER_NUMBER", default="106905994140020"),
            "FALLBACK": "default",
        },
    },
    "ROUTES": {"verification": "codes"},
    # Seconds between two codes to one number (the tests shorten it).
    "VERIFICATION": {"COOLDOWN": env.int("XUNCHEN_CODE_COOLDOWN", default=60)},
    # The demo's webhook endpoint is its own receiver on 127.0.0.1 (sms_demo.views): a
    # loopback address, refused unless allowed. Never allow it in production.
    "WEBHOOKS": {
        "ALLOW_PRIVATE_ADDRESSES": env.bool("XUNCHEN_WEBHOOKS_ALLOW_PRIVATE", default=DEBUG),
    },
}

# django-allauth (in the lock the demo installs): sign-up and sign-in by phone at
# /accounts/signup/ and /accounts/login/code/, its codes sent through django-xunchen
# (sms_demo.adapter; docs/integrations/allauth.rst), beside the app's own /login/phone/.
# allauth keeps its codes in the session: sessions are in the database here, never in
# signed cookies, which the visitor can read.
if importlib.util.find_spec("allauth"):
    INSTALLED_APPS += ["allauth", "allauth.account"]
    MIDDLEWARE.append("allauth.account.middleware.AccountMiddleware")
    AUTHENTICATION_BACKENDS = [
        "django.contrib.auth.backends.ModelBackend",
        "allauth.account.auth_backends.AuthenticationBackend",
    ]
    ACCOUNT_ADAPTER = "sms_demo.adapter.PhoneAccountAdapter"
    ACCOUNT_LOGIN_METHODS = {"phone"}
    ACCOUNT_SIGNUP_FIELDS = ["phone*"]
    ACCOUNT_EMAIL_VERIFICATION = "none"
    ACCOUNT_PHONE_VERIFICATION_ENABLED = True
    ACCOUNT_LOGIN_BY_CODE_ENABLED = True
    # Six digits, as codes are in China (allauth 65.5 ignores it: six letters and digits).
    ACCOUNT_PHONE_VERIFICATION_CODE_FORMAT = {"numeric": True, "length": 6, "dashed": False}
    LOGIN_REDIRECT_URL = "me"
    ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "django_xunchen": {"handlers": ["console"], "level": "INFO"},
        "sms_demo": {"handlers": ["console"], "level": "INFO"},
    },
}
