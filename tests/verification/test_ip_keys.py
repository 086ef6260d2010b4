"""The per-IP throttle's key: an IPv4 address as it is, an IPv6 address by its network
of IPV6_PREFIX bits (a /64 by default), an IPv4-mapped IPv6 address as the IPv4 address;
and the client's own X-Forwarded-For changes nothing unless a trusted proxy header is
configured. Throttled requests send nothing."""

import ipaddress

import pytest
from django.urls import reverse

from django_xunchen.models import Message, ThrottleBucket, ThrottleEvent, VerificationCode
from django_xunchen.operations.checks import check_settings
from django_xunchen.verification.codes import RequestStatus, client_ip, request_code
from django_xunchen.verification.throttles import ip_key, normalize_ip

pytestmark = pytest.mark.django_db(transaction=True)
REQUEST = reverse("django_xunchen:request_code")
NET = ipaddress.IPv6Network("2001:db8:1:2::/64")


def numbers(count):
    """``count`` different numbers: only the IP limit can bite (``limits`` is loose)."""
    return [f"1380000{i:04d}" for i in range(count)]


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        (" 203.0.113.7 ", "203.0.113.7"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("2001:0db8:0001:0002:0000:0000:0000:0009", "2001:db8:1:2::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("::ffff:cb00:7107", "203.0.113.7"),
        ("::1", "::/64"),
        (None, None),
        ("", None),
    ],
)
def test_the_key_of_an_address(address, key):
    assert ip_key(address) == key


def test_the_prefix_is_configurable(settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "VERIFICATION": {"IPV6_PREFIX": 48}}
    assert ip_key("2001:db8:1:2::1") == "2001:db8:1::/48"
    assert ip_key("203.0.113.7") == "203.0.113.7", "IPv4 is always the address"
    assert ip_key("2001:db8:1:2::1", prefix=128) == "2001:db8:1:2::1/128"


@pytest.mark.parametrize("bad", ["2001:db8::/64", "203.0.113.0/24", "not an address", "1"])
def test_a_key_is_made_of_one_address_only(bad):
    with pytest.raises(ValueError):
        ip_key(bad)
    with pytest.raises(ValueError):
        normalize_ip(bad)


def test_the_longest_key_fits_its_column(settings):
    field = ThrottleEvent._meta.get_field("ip")
    longest = ip_key("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", prefix=128)
    assert len(longest) == field.max_length == 43
    assert len(f"ip:{longest}") <= ThrottleBucket._meta.get_field("key").max_length


def test_60_addresses_of_one_64_share_the_ip_limit(limits, xunchen_outbox):
    limits(IP_PER_HOUR=20)
    results = [
        request_code(number, ip=str(NET[i * 7919 + 1])) for i, number in enumerate(numbers(60))
    ]
    assert [r.status for r in results] == [RequestStatus.SENT] * 20 + [RequestStatus.THROTTLED] * 40
    assert {r.reason for r in results[20:]} == {"ip"}
    assert len(xunchen_outbox) == Message.objects.count() == VerificationCode.objects.count() == 20
    assert set(ThrottleEvent.objects.values_list("ip", flat=True)) == {"2001:db8:1:2::/64"}
    assert ThrottleBucket.objects.filter(key__startswith="ip:").get().key == "ip:2001:db8:1:2::/64"
    assert request_code("13700137000", ip="2001:db8:1:3::1").sent, "the next /64 is another"
    assert set(VerificationCode.objects.values_list("ip", flat=True)) >= {"2001:db8:1:2::1"}


def test_ipv6_rotation_over_a_64_through_the_view(client, limits, xunchen_outbox):
    limits(IP_PER_HOUR=20)
    answers = [
        client.post(REQUEST, {"mobile": number}, REMOTE_ADDR=str(NET[i + 1])).status_code
        for i, number in enumerate(numbers(30))
    ]
    assert answers == [200] * 20 + [429] * 10
    assert len(xunchen_outbox) == 20
    throttled = ThrottleEvent.objects.filter(outcome=ThrottleEvent.Outcome.THROTTLED)
    assert throttled.count() == 10 and {e.reason for e in throttled} == {"ip"}


def test_ipv4_mapped_addresses_count_as_the_ipv4_address(limits, xunchen_outbox, rf):
    limits(IP_PER_HOUR=3)
    addresses = ["198.51.100.4", "::ffff:198.51.100.4", "::FFFF:c633:6404", "198.51.100.4"]
    results = [request_code(n, ip=a) for n, a in zip(numbers(4), addresses, strict=True)]
    assert [r.reason for r in results] == ["", "", "", "ip"]
    assert set(ThrottleEvent.objects.values_list("ip", flat=True)) == {"198.51.100.4"}
    assert client_ip(rf.get("/", REMOTE_ADDR="::ffff:198.51.100.4")) == "198.51.100.4"
    assert request_code("13700137000", ip="::ffff:198.51.100.5").sent, "another IPv4 address"


def test_a_spoofed_forwarded_for_without_a_trusted_proxy_changes_nothing(
    client, limits, xunchen_outbox
):
    limits(IP_PER_HOUR=3)
    answers = [
        client.post(
            REQUEST,
            {"mobile": number},
            REMOTE_ADDR="203.0.113.7",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{i}",
            HTTP_X_REAL_IP=f"198.51.100.{i}",
        ).status_code
        for i, number in enumerate(numbers(5))
    ]
    assert answers == [200, 200, 200, 429, 429]
    assert set(ThrottleEvent.objects.values_list("ip", flat=True)) == {"203.0.113.7"}


def test_a_spoofed_leftmost_entry_behind_a_trusted_proxy_changes_nothing(
    client, limits, xunchen_outbox
):
    limits(IP_PER_HOUR=2, TRUSTED_PROXY_HEADER="HTTP_X_FORWARDED_FOR")
    answers = [
        client.post(
            REQUEST,
            {"mobile": number},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"2001:db8:9::{i}, 2001:db8:1:2::{i + 1}",
        ).status_code
        for i, number in enumerate(numbers(3))
    ]
    assert answers == [200, 200, 429], "the proxy's entry, by its /64"
    assert set(ThrottleEvent.objects.values_list("ip", flat=True)) == {"2001:db8:1:2::/64"}


@pytest.mark.parametrize("bits", [0, 31, 129, "64", 64.0, True, None])
def test_a_bad_ipv6_prefix_is_a_system_check_error(settings, tmp_path, bits):
    settings.XUNCHEN = {
        "BACKEND": "django_xunchen.backends.locmem.SMSBackend",
        "SPOOL_DIR": str(tmp_path),
        "VERIFICATION": {"IPV6_PREFIX": bits},
    }
    found = [(e.id, e.msg) for e in check_settings()]
    assert [i for i, _ in found] == ["django_xunchen.E011"], found
    assert "IPV6_PREFIX" in found[0][1]


@pytest.mark.parametrize("bits", [32, 48, 56, 64, 128])
def test_a_good_ipv6_prefix_passes_the_check(settings, tmp_path, bits):
    settings.XUNCHEN = {
        "BACKEND": "django_xunchen.backends.locmem.SMSBackend",
        "SPOOL_DIR": str(tmp_path),
        "VERIFICATION": {"IPV6_PREFIX": bits},
    }
    assert not [e for e in check_settings() if e.id == "django_xunchen.E011"]


# ------------------------------------------------------------------ the column's migration


def migrate(target):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([("django_xunchen", target)])
    return executor.loader.project_state([("django_xunchen", target)]).apps


def test_the_migration_keeps_the_stored_addresses_and_goes_back():
    """On PostgreSQL an inet column casts to text with its netmask ("/32"): the
    migration puts the bare address back, so that old events still count."""
    from django.utils import timezone

    old = migrate("0013_request_identity")
    try:
        event = old.get_model("django_xunchen", "ThrottleEvent")
        for ip in ["203.0.113.7", "2001:db8:1:2::9", None]:
            event.objects.create(
                mobile="13800138000",
                prefix="1380013",
                ip=ip,
                purpose="login",
                outcome="sent",
                at=timezone.now(),
            )
        new = migrate("0014_throttle_ip_network")
        events = new.get_model("django_xunchen", "ThrottleEvent").objects
        stored = events.values_list("ip", flat=True)
        assert sorted(stored, key=str) == sorted(["203.0.113.7", "2001:db8:1:2::9", None], key=str)
        events.create(
            mobile="13800138000",
            prefix="1380013",
            ip="2001:db8:1:2::/64",
            purpose="login",
            outcome="sent",
            at=timezone.now(),
        )
        back = migrate("0013_request_identity")
        assert back.get_model("django_xunchen", "ThrottleEvent").objects.count() == 4
    finally:
        migrate(_leaf())


def _leaf():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    graph = MigrationExecutor(connection).loader.graph
    return next(name for app, name in graph.leaf_nodes() if app == "django_xunchen")
