"""Every door of every admin of the app checks the permission its action needs.

A fresh staff user gets exactly one permission of the app (or one of the pairs the table
below names, or none), and tries every URL of every admin of the app's models (GET, and
POST where a POST does something) and every admin action, with a client that enforces
CSRF. :data:`DOORS` says which permissions open each door; a door it does not open
answers 403 (an action: is neither offered nor run), an anonymous visitor is sent to
the login page. The table must have a row for every URL and action the admins have: a
new one without a row fails :func:`test_the_table_has_a_row_for_every_door`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.db.models import Model
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import get_random_string

from django_xunchen.httpapi.keys import create_key
from django_xunchen.models import (
    ApiRequest,
    BlockedWord,
    Campaign,
    CampaignRecipient,
    Consent,
    Erasure,
    InboundMessage,
    Message,
    PollJournalEntry,
    Report,
    Suppression,
    Template,
    ThrottleEvent,
    VerificationCode,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

pytestmark = pytest.mark.django_db
APP = "django_xunchen"
NOBODY: list[frozenset[str]] = []
SERIAL = count(1)


def one(*codenames: str) -> list[frozenset[str]]:
    """Each of ``codenames`` opens the door alone."""
    return [frozenset({c}) for c in codenames]


def listed(model: str, codename: str, *seers: str) -> list[frozenset[str]]:
    """An action: ``codename`` and a permission that shows the list (view or change, or
    one of ``seers``)."""
    return [frozenset({s, codename}) for s in (f"view_{model}", f"change_{model}", *seers)]


def standard(model: str, *, add: bool = True, change: bool = True) -> dict:
    """Django's own doors of a model admin: the list, add, the page, history, delete."""
    see = one(f"view_{model}", f"change_{model}")
    return {
        ("changelist", "GET"): see,
        ("add", "GET"): one(f"add_{model}") if add else NOBODY,
        ("add", "POST"): one(f"add_{model}") if add else NOBODY,
        ("change", "GET"): see,
        ("change", "POST"): one(f"change_{model}") if change else NOBODY,
        ("history", "GET"): see,
        ("delete", "GET"): one(f"delete_{model}"),
        ("delete", "POST"): one(f"delete_{model}"),
        "delete_selected": listed(model, f"delete_{model}"),
    }


CAMPAIGN_SEERS = ("view_campaign", "change_campaign", "send_campaign", "add_campaign")
STEPS = ("confirm", "pause", "resume", "cancel")

#: model name → door → the permission sets that open it (any one of them, whole). A door
#: is (URL name without the app and model, method[, the URL's last argument]), or an
#: action's name. "405": GET on a POST-only URL, for every staff user.
DOORS: dict[str, dict] = {
    "message": {
        **standard("message", change=False),
        # Messages are added by sending: "Add" redirects to the send page.
        ("add", "GET"): one("send_sms"),
        ("add", "POST"): one("send_sms"),
        ("send", "GET"): one("send_sms"),
        ("send", "POST"): one("send_sms"),
        ("send_numbers", "GET"): "405",
        ("send_numbers", "POST"): one("send_sms"),
        ("balance", "GET"): one("check_balance"),
        ("dashboard", "GET"): one("view_dashboard"),
        ("analytics", "GET"): one("view_dashboard"),
        ("conversation", "GET"): one("view_message", "change_message"),
        ("conversation", "POST"): listed("message", "send_sms"),
        ("export", "GET", "csv"): one("export_message"),
        ("export", "GET", "xlsx"): one("export_message"),
        "export_person_data": listed("message", "export_person"),
        "erase_person_data": listed("message", "erase_person"),
        "resend_selected": listed("message", "resend_message"),
        "check_balance": listed("message", "check_balance"),
    },
    "template": standard("template"),
    "erasure": {
        # What stays of an erasure: shown, never added, changed or deleted here.
        **{
            k: v
            for k, v in standard("erasure", add=False, change=False).items()
            if k != "delete_selected"
        },
        ("delete", "GET"): NOBODY,
        ("delete", "POST"): NOBODY,
    },
    "report": standard("report", add=False, change=False),
    "apikey": standard("apikey"),
    "apirequest": {
        # The log of the API's requests: shown, never added, changed or deleted here.
        **{
            k: v
            for k, v in standard("apirequest", add=False, change=False).items()
            if k != "delete_selected"
        },
        ("delete", "GET"): NOBODY,
        ("delete", "POST"): NOBODY,
    },
    "webhookendpoint": standard("webhookendpoint"),
    "webhookdelivery": {
        # Deliveries and their attempts are a log: shown, replayed, never edited here.
        **{
            k: v
            for k, v in standard("webhookdelivery", add=False, change=False).items()
            if k != "delete_selected"
        },
        ("delete", "GET"): NOBODY,
        ("delete", "POST"): NOBODY,
        "replay_selected": listed("webhookdelivery", "replay_webhookdelivery"),
    },
    "inboundmessage": standard("inboundmessage", add=False, change=False),
    "verificationcode": standard("verificationcode", add=False, change=False),
    "polljournalentry": {
        **standard("polljournalentry", add=False, change=False),
        "retry_ingest": listed("polljournalentry", "change_polljournalentry"),
    },
    "throttleevent": {
        **standard("throttleevent", add=False, change=False),
        "lift_selected": listed("throttleevent", "change_throttleevent"),
    },
    "suppression": {
        # A number is added or removed, never edited.
        **standard("suppression", change=False),
        ("import", "GET"): one("add_suppression"),
        ("import", "POST"): one("add_suppression"),
        "export_csv": one("view_suppression", "change_suppression"),
        "export_xlsx": one("view_suppression", "change_suppression"),
    },
    "consent": {
        # The ledger is only added to: no entry is edited or deleted, by anyone.
        **{k: v for k, v in standard("consent", change=False).items() if k != "delete_selected"},
        ("delete", "GET"): NOBODY,
        ("delete", "POST"): NOBODY,
        ("import", "GET"): one("add_consent"),
        ("import", "POST"): one("add_consent"),
        ("find", "GET"): one("view_consent_evidence"),
        ("evidence", "GET"): one("view_consent_evidence"),
    },
    "blockedword": {
        **standard("blockedword"),
        ("import", "GET"): one("add_blockedword"),
        ("import", "POST"): one("add_blockedword"),
        "disable": listed("blockedword", "change_blockedword"),
        "enable": listed("blockedword", "change_blockedword"),
    },
    "campaign": {
        # add_campaign alone: the campaigns one uploaded (the one here is the user's).
        ("changelist", "GET"): one(*CAMPAIGN_SEERS),
        ("add", "GET"): one("add_campaign"),
        ("add", "POST"): one("add_campaign"),
        ("change", "GET"): one(*CAMPAIGN_SEERS),
        ("change", "POST"): one(*CAMPAIGN_SEERS),  # the page again: nothing is edited
        ("history", "GET"): one(*CAMPAIGN_SEERS),
        ("delete", "GET"): one("delete_campaign"),
        ("delete", "POST"): one("delete_campaign"),
        ("progress", "GET"): one(*CAMPAIGN_SEERS),
        ("problems", "GET"): one("add_campaign", "send_campaign"),
        ("cancel", "GET"): one("send_campaign"),
        ("step", "GET", "confirm"): "405",
        **{("step", "POST", step): one("send_campaign") for step in STEPS},
        "delete_selected": listed("campaign", "delete_campaign", "send_campaign", "add_campaign"),
    },
}


# ------------------------------------------------------------------------- the rows


def make(model: str, user: User) -> Model:
    """A fresh row of ``model`` for a door to act on."""
    n = next(SERIAL)
    mobile = f"138{n:08d}"
    now = timezone.now()
    if model == "message":
        return Message.objects.create(mobile=mobile, content="x", status=Message.Status.FAILED)
    if model == "template":
        return Template.objects.create(template_id=f"T-{n}", name=f"t{n}", body="您好@1@")
    if model == "report":
        return Report.objects.create(mobile=mobile, msgid=f"m{n}", status="DELIVRD", delivered=True)
    if model == "inboundmessage":
        return InboundMessage.objects.create(mobile=mobile, recvcode="106", content="hi")
    if model == "verificationcode":
        return VerificationCode.objects.create(
            mobile=mobile,
            purpose="login",
            nonce="n",
            code_hash="h",
            max_attempts=5,
            expires_at=now + timezone.timedelta(minutes=5),
        )
    if model == "polljournalentry":
        return PollJournalEntry.objects.create(
            operation="queryReport",
            body=b"x",
            fetched_at=now,
            state=PollJournalEntry.State.SET_ASIDE,
            attempts=5,
        )
    if model == "throttleevent":
        return ThrottleEvent.objects.create(
            mobile=mobile, prefix=mobile[:7], purpose="login", outcome="sent"
        )
    if model == "suppression":
        return Suppression.objects.create(mobile=mobile, source=Suppression.Source.STAFF)
    if model == "blockedword":
        return BlockedWord.objects.create(word=f"词{n}")
    if model == "erasure":
        return Erasure.objects.create(digest=f"{n:064x}")
    if model == "apikey":
        return create_key(f"k{n}", scopes=["read"])[0]
    if model == "apirequest":
        return ApiRequest.objects.create(method="GET", path="/sms/api/v1/balance", status=200)
    if model == "webhookendpoint":
        return WebhookEndpoint.objects.create(
            name=f"e{n}", url="https://hooks.example.com/sms", events=["message.sent"], secret="s"
        )
    if model == "webhookdelivery":
        event = WebhookEvent.objects.create(
            type="message.sent", object_id=n, occurred_at=now, handed_out_at=now, payload={}
        )
        return WebhookDelivery.objects.create(
            event=event, endpoint=make("webhookendpoint", user), status="delivered"
        )
    if model == "consent":
        return Consent.objects.create(mobile=mobile, granted=True, source=Consent.Source.STAFF)
    if model == "campaign":
        campaign = Campaign.objects.create(
            name=f"c{n}", kind="notification", content="您好", created_by=user
        )
        CampaignRecipient.objects.create(campaign=campaign, row=1, mobile=mobile, parts=1)
        Campaign.objects.filter(pk=campaign.pk).update(rows=1, valid=1, total_parts=1)
        return campaign
    raise AssertionError(f"no row for {model}: add one to make()")


def gone(obj) -> bool:
    return not type(obj).objects.filter(pk=obj.pk).exists()


@dataclass
class Action:
    """How to see that an action ran."""

    ran: Callable[[Model, object], bool]
    prepare: Callable[[Model], None] = field(default=lambda obj: None)


ACTIONS = {
    "delete_selected": Action(lambda obj, response: gone(obj)),
    "resend_selected": Action(
        lambda obj, response: Message.objects.filter(resent_from=obj).exists()
    ),
    "check_balance": Action(
        lambda obj, response: (
            response.get("Location") == reverse("admin:django_xunchen_message_balance")
        )
    ),
    "retry_ingest": Action(
        lambda obj, response: PollJournalEntry.objects.get(pk=obj.pk).state == "pending"
    ),
    "lift_selected": Action(lambda obj, response: ThrottleEvent.objects.get(pk=obj.pk).lifted),
    "export_csv": Action(
        lambda obj, response: response.get("Content-Type", "").startswith("text/csv")
    ),
    "export_xlsx": Action(
        lambda obj, response: "spreadsheetml" in response.get("Content-Type", "")
    ),
    "export_person_data": Action(
        lambda obj, response: response.get("Content-Type") == "application/zip"
    ),
    "erase_person_data": Action(
        lambda obj, response: not Message.objects.filter(pk=obj.pk, mobile=obj.mobile).exists()
    ),
    "disable": Action(
        lambda obj, response: not BlockedWord.objects.get(pk=obj.pk).is_active,
        lambda obj: BlockedWord.objects.filter(pk=obj.pk).update(is_active=True),
    ),
    "replay_selected": Action(
        lambda obj, response: WebhookDelivery.objects.get(pk=obj.pk).status == "pending"
    ),
    "enable": Action(
        lambda obj, response: BlockedWord.objects.get(pk=obj.pk).is_active,
        lambda obj: BlockedWord.objects.filter(pk=obj.pk).update(is_active=False),
    ),
}


# ------------------------------------------------------------------------- the doors


def app_admins() -> dict[str, admin.ModelAdmin]:
    return {
        model._meta.model_name: model_admin
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label == APP
    }


def url_names(model_admin: admin.ModelAdmin) -> set[str]:
    """The names of an admin's URLs, without ``django_xunchen_<model>_``; the one
    unnamed URL Django adds (``<id>/``, a redirect to the change page) left out."""
    prefix = f"{APP}_{model_admin.model._meta.model_name}_"
    names = set()
    for pattern in model_admin.get_urls():
        if pattern.name is None:
            assert str(pattern.pattern) == "<path:object_id>/", pattern
            continue
        assert pattern.name.startswith(prefix), pattern.name
        names.add(pattern.name.removeprefix(prefix))
    return names


def action_names(model_admin: admin.ModelAdmin) -> set[str]:
    request = RequestFactory().get("/")
    request.user = User(is_superuser=True, is_staff=True, is_active=True)
    return set(model_admin.get_actions(request))


def app_permissions() -> list[str]:
    return sorted(
        Permission.objects.filter(content_type__app_label=APP).values_list("codename", flat=True)
    )


def grants() -> list[tuple[str, ...]]:
    """Each permission of the app alone, each pair the table names, and none."""
    pairs = {
        tuple(sorted(alternative))
        for doors in DOORS.values()
        for opened in doors.values()
        if opened != "405"
        for alternative in opened
        if len(alternative) > 1
    }
    return [(), *sorted(pairs)]


def test_the_table_has_a_row_for_every_door():
    admins = app_admins()
    assert set(admins) == set(DOORS), "an admin without rows, or rows without an admin"
    for model, model_admin in admins.items():
        rows = DOORS[model]
        urls = {key[0] for key in rows if isinstance(key, tuple)}
        actions = {key for key in rows if isinstance(key, str)}
        assert url_names(model_admin) == urls, model
        assert action_names(model_admin) == actions, model
        assert actions <= set(ACTIONS), model


def test_every_permission_of_the_table_exists():
    known = set(app_permissions())
    named = {
        codename
        for doors in DOORS.values()
        for opened in doors.values()
        if opened != "405"
        for alternative in opened
        for codename in alternative
    }
    assert named <= known, named - known


def csrf_client(user: User | None) -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    token = get_random_string(32)
    client.cookies[settings.CSRF_COOKIE_NAME] = token
    return client, token


def staff(codenames: tuple[str, ...]) -> User:
    user = User.objects.create_user(f"staff-{next(SERIAL)}", password="pw", is_staff=True)
    perms = Permission.objects.filter(content_type__app_label=APP, codename__in=codenames)
    assert perms.count() == len(codenames), codenames
    user.user_permissions.set(perms)
    return user


def opens(opened, granted: set[str]) -> bool:
    return any(alternative <= granted for alternative in opened)


def url_of(model: str, door: tuple, obj) -> str:
    name, _method, *extra = door
    args = []
    if name in ("change", "history", "delete", "progress", "problems", "cancel", "step"):
        args = [obj.pk, *extra]
    elif name in ("conversation", "evidence"):
        args = [obj.mobile]
    elif name == "export":
        args = extra
    return reverse(f"admin:{APP}_{model}_{name}", args=args)


def try_urls(client, token, granted: set[str] | None, user) -> list[str]:
    """Every URL door; returns what went wrong."""
    wrong = []
    for model, rows in DOORS.items():
        main = make(model, user)
        for door, opened in rows.items():
            if not isinstance(door, tuple):
                continue
            method = door[1]
            target = make(model, user) if door[:2] == ("delete", "POST") else main
            url = url_of(model, door, target)
            if method == "GET":
                response = client.get(url)
            else:
                data = {"csrfmiddlewaretoken": token}
                if door[0] == "delete":
                    data["post"] = "yes"
                response = client.post(url, data)
            status = response.status_code
            if granted is None:  # anonymous
                ok = status == 302 and "/login/" in response["Location"]
            elif opened == "405":
                ok = status == 405
            elif opens(opened, granted):
                ok = status in (200, 302) and "/login/" not in response.get("Location", "")
                if door[:2] == ("delete", "POST"):
                    ok = ok and gone(target)
            else:
                ok = status == 403 and b"CSRF" not in response.content
                if door[:2] == ("delete", "POST"):
                    ok = ok and not gone(target)
            if not ok:
                wrong.append(f"{model} {door}: {status}")
    return wrong


def try_actions(client, token, granted: set[str] | None, user) -> list[str]:
    """Every admin action, posted to its list as the admin's own form would."""
    wrong = []
    for model, rows in DOORS.items():
        changelist = reverse(f"admin:{APP}_{model}_changelist")
        listing = client.get(changelist)
        form = listing.context["action_form"] if listing.status_code == 200 else None
        offered = set(dict(form.fields["action"].choices)) if form else set()
        for name, opened in rows.items():
            if not isinstance(name, str):
                continue
            obj = make(model, user)
            ACTIONS[name].prepare(obj)
            response = client.post(
                changelist,
                {
                    "csrfmiddlewaretoken": token,
                    "action": name,
                    "_selected_action": [obj.pk],
                    "index": 0,
                    "post": "yes",
                },
            )
            ran = ACTIONS[name].ran(obj, response)
            should = granted is not None and opens(opened, granted)
            if ran != should:
                wrong.append(f"{model} action {name}: ran={ran}, {response.status_code}")
            if not should and response.status_code not in (200, 302, 403):
                wrong.append(f"{model} action {name} refused with {response.status_code}")
            if listing.status_code == 200 and (name in offered) != should:
                wrong.append(f"{model} action {name}: offered={name in offered}")
    return wrong


def test_anonymous_is_sent_to_the_login_page_at_every_door():
    owner = User.objects.create_user("owner", password="pw", is_staff=True)
    client, token = csrf_client(None)
    assert try_urls(client, token, None, owner) == []
    assert try_actions(client, token, None, owner) == []


def _one_grant(granted: tuple[str, ...]) -> list[str]:
    user = staff(granted)
    client, token = csrf_client(user)
    return try_urls(client, token, set(granted), user) + try_actions(
        client, token, set(granted), user
    )


def test_staff_without_permissions_opens_no_door():
    assert _one_grant(()) == []


def permission_codenames() -> list[str]:
    """The app's permissions, from its models (the database is not there yet when the
    tests are collected): Django's four per model and each model's own."""
    found = []
    for model in apps.get_app_config(APP).get_models():
        meta = model._meta
        found += [f"{action}_{meta.model_name}" for action in meta.default_permissions]
        found += [codename for codename, _name in meta.permissions]
    return sorted(set(found))


def test_the_permissions_tried_are_every_permission_of_the_app():
    assert permission_codenames() == app_permissions()


@pytest.mark.parametrize("codename", permission_codenames())
def test_each_permission_alone_opens_exactly_its_doors(codename):
    assert _one_grant((codename,)) == []


# The pairs add no Python or Django version of their own to what each permission alone
# (run in every session) shows: they run in the main step only.
@pytest.mark.main_step_only
@pytest.mark.parametrize("pair", [g for g in grants() if g], ids="+".join)
def test_each_pair_the_table_names_opens_exactly_its_doors(pair):
    assert _one_grant(pair) == []
