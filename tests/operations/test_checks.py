import io
import logging
import tempfile

import pytest
from django.core import checks as dj_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_xunchen.backends.dummy import SMSBackend as DummyBackend
from django_xunchen.backends.xunchen import SMSBackend as XunchenBackend
from django_xunchen.conf import setting_name, xunchen_settings
from django_xunchen.operations.checks import check_settings

GATEWAY = "django_xunchen.backends.xunchen.SMSBackend"
LOCMEM = "django_xunchen.backends.locmem.SMSBackend"


SPOOL = tempfile.mkdtemp(prefix="xunchen-checks-")


def ids(settings_dict, settings):
    settings.XUNCHEN = {"SPOOL_DIR": SPOOL, **settings_dict}
    return sorted(m.id for m in check_settings())


def test_clean(settings):
    assert ids({"BACKEND": "django_xunchen.backends.locmem.SMSBackend"}, settings) == []


def test_unknown_backend(settings):
    assert ids({"BACKEND": "nowhere.SMSBackend"}, settings) == ["django_xunchen.E001"]


def test_missing_credentials(settings):
    assert ids({"BACKEND": GATEWAY, "BASE_URL": "http://gw.test:8030"}, settings) == [
        "django_xunchen.E002"
    ]


def test_malformed_base_url(settings):
    conf = {
        "BACKEND": GATEWAY,
        "BASE_URL": "gw.test:8030",
        "USERNAME": "u",
        "PASSWORD": "p",
        "VERY_CODE": "k",
    }
    assert ids(conf, settings) == ["django_xunchen.E003"]


def test_bad_encoding_and_batch(settings):
    conf = {
        "BACKEND": "django_xunchen.backends.dummy.SMSBackend",
        "ENCODING": "latin-1",
        "BATCH_SIZE": 500,
    }
    assert ids(conf, settings) == ["django_xunchen.E004", "django_xunchen.E005"]


def test_unknown_key(settings):
    assert ids({"PASSWD": "x"}, settings) == ["django_xunchen.E000"]


@pytest.fixture
def noisy_loggers_restored():
    """Django 6 applies a changed LOGGING setting at once, and a dictConfig that names a
    logger's level leaves it there: put the levels back for the tests that follow."""
    names = ("urllib3", "requests", "http.client")
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.parametrize("name", ["urllib3", "requests", "http.client"])
def test_debug_http_logging_warns(settings, name, noisy_loggers_restored):
    settings.LOGGING = {"version": 1, "loggers": {name: {"level": "DEBUG"}}}
    assert ids({"BACKEND": "django_xunchen.backends.locmem.SMSBackend"}, settings) == [
        "django_xunchen.W001"
    ]


def test_debug_logger_level_set_in_code_warns(settings):
    logger = logging.getLogger("urllib3")
    old = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        assert "django_xunchen.W001" in ids(
            {"BACKEND": GATEWAY.replace("xunchen.", "dummy.")}, settings
        )
    finally:
        logger.setLevel(old)


def test_credentials_never_in_check_messages(settings):
    settings.XUNCHEN = {
        "BACKEND": GATEWAY,
        "BASE_URL": "http://u:topsecret@gw.test",
        "USERNAME": "u",
        "PASSWORD": "topsecret",
        "VERY_CODE": "k",
    }
    text = " ".join(str(m) for m in check_settings())
    assert "topsecret" not in text


def test_an_unwritable_spool_folder_is_an_error(settings, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    found = ids({"BACKEND": LOCMEM, "SPOOL_DIR": str(blocker / "spool")}, settings)
    assert found == ["django_xunchen.E006"]


def test_an_unset_spool_folder_is_an_error_in_production(settings):
    settings.DEBUG = False
    settings.XUNCHEN = {"BACKEND": "django_xunchen.backends.locmem.SMSBackend"}
    (found,) = check_settings()
    assert (found.id, found.level) == ("django_xunchen.E014", logging.ERROR)
    assert found.msg.startswith("XUNCHEN['SPOOL_DIR'] is not set")
    assert "SPOOL_DIR" in found.hint
    settings.DEBUG = True
    assert [m.id for m in check_settings()] == []


@pytest.mark.parametrize(
    "key",
    ["REQUEST_DEADLINE", "OUTCOME_RETRY_SECONDS", "POLL_MAX_AGE", "SWEEP_MARGIN", "ORPHANED_AFTER"],
)
@pytest.mark.parametrize("value", [0, -1, "60", None])
def test_time_settings_must_be_positive_seconds(settings, key, value):
    assert ids({"BACKEND": LOCMEM, key: value}, settings) == ["django_xunchen.E007"]


def test_each_bad_time_setting_is_named_beside_the_spool_checks(settings):
    settings.DEBUG = False
    settings.XUNCHEN = {"BACKEND": LOCMEM, "SWEEP_MARGIN": 0, "ORPHANED_AFTER": "60"}
    found = check_settings()
    assert sorted(m.id for m in found) == [
        "django_xunchen.E007",
        "django_xunchen.E007",
        "django_xunchen.E014",
    ]
    assert {m.msg.split("]")[0] for m in found if m.id.endswith("E007")} == {
        "XUNCHEN['SWEEP_MARGIN'",
        "XUNCHEN['ORPHANED_AFTER'",
    }


# ----------------------------------------------------------------------- accounts

GOOD = {"BACKEND": LOCMEM}


def messages(settings_dict, settings):
    settings.XUNCHEN = {"SPOOL_DIR": SPOOL, **settings_dict}
    return [(m.id, m.msg) for m in check_settings()]


def test_several_accounts_are_checked_one_by_one_naming_account_and_key(settings):
    found = messages(
        {
            "ACCOUNTS": {
                "default": GOOD,
                "codes": {"BACKEND": GATEWAY, "BASE_URL": "http://gw.test", "USERNAME": "u"},
                "marketing": {**GOOD, "ENCODING": "latin-1"},
            }
        },
        settings,
    )
    assert [i for i, _ in found] == ["django_xunchen.E002", "django_xunchen.E004"]
    assert "XUNCHEN['ACCOUNTS']['codes']['PASSWORD']" in found[0][1]
    assert "XUNCHEN['ACCOUNTS']['codes']['VERY_CODE']" in found[0][1]
    assert "'default'" not in found[0][1]
    assert found[1][1].startswith("XUNCHEN['ACCOUNTS']['marketing']['ENCODING']")


def test_top_level_credentials_beside_accounts_is_an_error(settings):
    found = messages({"PASSWORD": "p", "ACCOUNTS": {"default": GOOD}}, settings)
    assert [i for i, _ in found] == ["django_xunchen.E008"]
    assert "PASSWORD" in found[0][1]


def test_shared_non_credential_settings_at_the_top_level_are_fine(settings):
    assert ids({"BACKEND": LOCMEM, "ENCODING": "gbk", "ACCOUNTS": {"default": {}}}, settings) == []


@pytest.mark.parametrize(
    "accounts",
    [{"codes": GOOD}, {"default": GOOD, "codes": {"PASSWORD_TYPO": "x"}}, {"default": "x"}],
    ids=["no default", "unknown key", "not a dict"],
)
def test_malformed_accounts_are_refused(settings, accounts):
    assert ids({"ACCOUNTS": accounts}, settings) == ["django_xunchen.E000"]


@pytest.mark.parametrize(
    "routes",
    [{"sms": "default"}, {"marketing": "nowhere"}, ["marketing"]],
    ids=["unknown kind", "unknown account", "not a dict"],
)
def test_bad_routes(settings, routes):
    found = messages({**GOOD, "ROUTES": routes}, settings)
    assert [i for i, _ in found] == ["django_xunchen.E009"]


@pytest.mark.parametrize(
    "account",
    [{"FALLBACK": "codes"}, {"FALLBACK": "nowhere"}, {"KINDS": "marketing"}, {"KINDS": ["sms"]}],
    ids=["itself", "unknown", "string", "unknown kind"],
)
def test_bad_fallback_or_kinds(settings, account):
    found = messages({"ACCOUNTS": {"default": GOOD, "codes": {**GOOD, **account}}}, settings)
    assert [i for i, _ in found] == ["django_xunchen.E010"]
    assert "XUNCHEN['ACCOUNTS']['codes']" in found[0][1]


@pytest.mark.parametrize(
    "verification",
    [
        {"CODE_LENGTH": 3},
        {"CODE_LENGTH": 9},
        {"MAX_ATTEMPTS": 0},
        {"COOLDOWN": -1},
        {"TEXT": "no placeholder"},
        {"TEMPLATE": "T-1", "TEMPLATE_PARAMS": {"1": "x"}},
        {"PREFIX_DIGITS": 12},
        {"SPEED": 1},
    ],
    ids=str,
)
def test_bad_verification_settings(settings, verification):
    assert ids({"BACKEND": LOCMEM, "VERIFICATION": verification}, settings) == [
        "django_xunchen.E011"
    ]


@pytest.mark.parametrize(
    "policy",
    [
        {"QUIET_HOURS": ("21:00",)},
        {"QUIET_HOURS": ("25:00", "08:00")},
        {"PART_LENGTHS": (70,)},
        {"PRICE_PER_PART": "cheap"},
        {"PRICE_PER_PART": "-1"},
        {"MARKETING_DAILY_CAP": 0},
    ],
    ids=str,
)
def test_bad_policy_settings(settings, policy):
    assert ids({"BACKEND": LOCMEM, **policy}, settings) == ["django_xunchen.E012"]


# ----------------------------------------------------------------------- a backend's own checks


class SignedBackend(DummyBackend):
    """A custom backend that needs a sender number: its own check, beside the base ones."""

    @classmethod
    def check(cls, settings, **kwargs):
        yield from super().check(settings, **kwargs)
        if not settings["SENDER_NUMBER"]:
            yield dj_checks.Error(
                f"{setting_name(settings['ACCOUNT'], 'SENDER_NUMBER')} is needed by SignedBackend",
                id="signed.E001",
            )


SIGNED = f"{__name__}.SignedBackend"


@pytest.mark.django_db  # Django 6's model checks ask the database what it supports
def test_a_custom_backend_s_own_check_shows_in_manage_py_check(settings):
    settings.XUNCHEN = {"SPOOL_DIR": SPOOL, "BACKEND": SIGNED}
    with pytest.raises(SystemCheckError) as raised:
        call_command("check")
    assert "signed.E001" in str(raised.value)
    assert "XUNCHEN['SENDER_NUMBER'] is needed by SignedBackend" in str(raised.value)
    settings.XUNCHEN = {"SPOOL_DIR": SPOOL, "BACKEND": SIGNED, "SENDER_NUMBER": "106900"}
    out = io.StringIO()
    call_command("check", stdout=out)
    assert "no issues" in out.getvalue()


def test_each_account_s_backend_checks_that_account_s_settings(settings):
    found = messages(
        {
            "ACCOUNTS": {
                "default": {"BACKEND": SIGNED, "SENDER_NUMBER": "106900"},
                "codes": {"BACKEND": SIGNED, "ENCODING": "latin-1"},
                "marketing": GOOD,
            }
        },
        settings,
    )
    assert [i for i, _ in found] == ["django_xunchen.E004", "signed.E001"]
    assert all(m.startswith("XUNCHEN['ACCOUNTS']['codes']") for _, m in found)


def test_a_subclass_of_the_gateway_backend_keeps_its_checks(settings):
    class Failover(XunchenBackend):
        pass

    conf = xunchen_settings(
        base_url="gw.test:8030", username="u", password="", very_code="", encoding="latin-1"
    )
    found = [m.id for m in Failover.check(conf)]
    assert found == ["django_xunchen.E002", "django_xunchen.E003", "django_xunchen.E004"]


@pytest.mark.parametrize("path", [LOCMEM, "django_xunchen.backends.console.SMSBackend"])
def test_the_development_backends_check_only_what_every_backend_reads(settings, path):
    settings.XUNCHEN = {"SPOOL_DIR": SPOOL, "BACKEND": path, "ENCODING": "latin-1"}
    assert [m.id for m in check_settings()] == ["django_xunchen.E004"]
