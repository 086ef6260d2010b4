"""Settings for the test suite: SQLite by default, DATABASE_URL for PostgreSQL."""

import importlib.util
import tempfile

import django
import environ

env = environ.Env()

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "Asia/Shanghai"
LANGUAGE_CODE = "en"
ALLOWED_HOSTS = ["*"]

DATABASES = {"default": env.db("DATABASE_URL", default="sqlite:///:memory:")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("TEST", {})
    name = DATABASES["default"]["NAME"]
    if name and name != ":memory:":
        DATABASES["default"]["TEST"]["NAME"] = name + ".test"
# A second database of the same kind, for a host that keeps the SMS tables on another
# alias: only tests that ask for it get it (tests/models/test_migrations.py).
DATABASES["other"] = {**DATABASES["default"], "TEST": {}}
if DATABASES["other"]["NAME"] and DATABASES["other"]["NAME"] != ":memory:":
    DATABASES["other"]["NAME"] += "_other"

INSTALLED_APPS = [
    "tests.flush",  # first: its flush command is the one run (tests/flush)
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rangefilter",
    "django_xunchen",
]
if importlib.util.find_spec("django_tasks_db"):
    INSTALLED_APPS.append("django_tasks_db")  # the database task engine (test_engines.py)
if importlib.util.find_spec("django_rq"):
    INSTALLED_APPS.append("django_rq")  # the RQ task engine (test_engines.py)
#: The integrations (tests/integrations/), with the packages they integrate, when
#: installed: the lock installs every one (tests/integrations/test_installed.py).
INTEGRATIONS = {
    "django_otp": ["django_otp", "django_xunchen.integrations.otp"],
    "two_factor": [
        "django_otp.plugins.otp_static",
        "django_otp.plugins.otp_totp",
        "formtools",
        "two_factor",
        "two_factor.plugins.phonenumber",
    ],
}
for package, apps in INTEGRATIONS.items():
    if importlib.util.find_spec(package):
        INSTALLED_APPS += [a for a in apps if a not in INSTALLED_APPS]
#: django-two-factor-auth would otherwise send the admin's login to its own pages, for
#: every test of the admin.
TWO_FACTOR_PATCH_ADMIN = False
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
if "django_otp" in INSTALLED_APPS:
    MIDDLEWARE.append("django_otp.middleware.OTPMiddleware")
ROOT_URLCONF = "tests.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
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
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

#: Each test gets its own spool folder instead (tests/conftest.py, isolated_spool).
TEST_SPOOL_DIR = tempfile.mkdtemp(prefix="xunchen-test-spool-")

#: Django's default task backend runs tasks at once; tests of deferred work switch to
#: the DummyBackend (tests/background/test_tasks.py).
TASKS_MODULE = "django.tasks" if django.VERSION >= (6,) else "django_tasks"
TASKS = {"default": {"BACKEND": f"{TASKS_MODULE}.backends.immediate.ImmediateBackend"}}
# Task workers started by tests/background/test_engines.py get theirs through the environment.
TASKS = env.json("XUNCHEN_TEST_TASKS", default=TASKS)
RQ_QUEUES = env.json(
    "XUNCHEN_TEST_RQ_QUEUES", default={"default": {"URL": "redis://127.0.0.1:6379/0"}}
)

XUNCHEN = {
    "SPOOL_DIR": TEST_SPOOL_DIR,
    "BACKEND": "django_xunchen.backends.locmem.SMSBackend",
    "BASE_URL": "http://127.0.0.1:9",
    "USERNAME": "JSM40001",
    "PASSWORD": "123456",
    "VERY_CODE": "453245",
    # Marketing rules that depend on the hour and on earlier sends are off here, so that
    # a test's outcome does not depend on when it runs; their own tests turn them on and
    # set the clock (tests/policy/test_quiet_hours_and_daily_cap.py).
    "QUIET_HOURS": None,
    "MARKETING_DAILY_CAP": None,
    # One request at a time unless a test asks for more (tests/dispatch/test_concurrency.py):
    # query counts and "the rest stays queued" are about one sender.
    "CONCURRENCY": 1,
}

# Subprocess tests (tests/crash_poll.py) point XUNCHEN at their gateway through the
# environment.
XUNCHEN.update(env.json("XUNCHEN_TEST_SETTINGS", default={}))
