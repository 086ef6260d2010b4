import pytest

from django_xunchen import signals as module


@pytest.fixture
def codes(settings):
    """No cooldown, so that a test can ask twice; other limits at their defaults."""

    def configure(**verification):
        settings.XUNCHEN = {**settings.XUNCHEN, "VERIFICATION": verification}

    configure(COOLDOWN=0)
    return configure


@pytest.fixture
def limits(settings, xunchen_outbox):
    """Loose limits but for those a test sets; no cooldown unless asked."""

    def configure(**verification):
        loose = {
            "COOLDOWN": 0,
            "PER_HOUR": 100,
            "PER_DAY": 100,
            "IP_PER_HOUR": 100,
            "PREFIX_LIMIT": 100,
            "DAILY_ALARM": 100,
        }
        settings.XUNCHEN = {**settings.XUNCHEN, "VERIFICATION": {**loose, **verification}}

    configure()
    return configure


@pytest.fixture
def signals():
    from django_xunchen import signals as module

    names = ["code_requested", "code_throttled", "code_verified", "code_failed"]
    names.append("code_volume_alarm")
    got = []
    handlers = []
    for name in names:

        def handler(sender, _name=name, **kwargs):
            kwargs.pop("signal", None)
            got.append((_name, kwargs))

        getattr(module, name).connect(handler, weak=False)
        handlers.append((name, handler))
    yield got
    for name, handler in handlers:
        getattr(module, name).disconnect(handler)


@pytest.fixture
def heard():
    """Every verification signal, as (name, sender, kwargs)."""
    got = []
    names = ["code_requested", "code_throttled", "code_verified", "code_failed"]
    names.append("code_volume_alarm")
    handlers = []
    for name in names:

        def handler(sender, _name=name, **kwargs):
            kwargs.pop("signal", None)
            got.append((_name, sender, kwargs))

        getattr(module, name).connect(handler, weak=False)
        handlers.append((name, handler))
    yield got
    for name, handler in handlers:
        getattr(module, name).disconnect(handler)
