"""The admin package's shape: every name it exported before it was split by admin still
imports from ``django_xunchen.admin``; each admin is the one registered; no module is
over the size limit; and no admin module writes a row itself (each write is a call to a
service function)."""

import ast
from pathlib import Path

import pytest
from django.contrib import admin

import django_xunchen.admin as package
from django_xunchen import models

ADMIN = Path(package.__file__).parent
#: The names ``django_xunchen/admin/__init__.py`` defined before the split.
EXPORTED = [
    "ADMIN_MEDIA",
    "CODE_COLOURS",
    "JOURNAL_COLOURS",
    "STATUS_COLOURS",
    "AccountColumnMixin",
    "AccountFilter",
    "InboundMessageAdmin",
    "MatchedFilter",
    "MessageAdmin",
    "PollJournalEntryAdmin",
    "PolledRecordAdmin",
    "ReadOnlyAdminMixin",
    "ReadOnlyInline",
    "ReplyInline",
    "ReportAdmin",
    "ReportInline",
    "ReportOverdueFilter",
    "ResendInline",
    "TagFilter",
    "TemplateAdmin",
    "ThrottleEventAdmin",
    "VerificationCodeAdmin",
    "balance_rows",
    "message_link",
    "status_badge",
    "when",
]
REGISTERED = {
    models.Message: "MessageAdmin",
    models.Template: "TemplateAdmin",
    models.Report: "ReportAdmin",
    models.InboundMessage: "InboundMessageAdmin",
    models.PollJournalEntry: "PollJournalEntryAdmin",
    models.VerificationCode: "VerificationCodeAdmin",
    models.ThrottleEvent: "ThrottleEventAdmin",
    models.Campaign: "CampaignAdmin",
    models.Suppression: "SuppressionAdmin",
    models.BlockedWord: "BlockedWordAdmin",
}
#: Method calls that write rows, whatever the receiver.
WRITES = {"save", "delete", "create", "bulk_create", "bulk_update", "get_or_create"}
WRITES |= {"update_or_create", "select_for_update", "atomic"}
#: Django's ModelAdmin methods that write, called from an override.
DJANGO_WRITES = {"save_model", "delete_model", "delete_queryset"}


def modules():
    return sorted(ADMIN.rglob("*.py"))


@pytest.mark.parametrize("name", EXPORTED)
def test_every_name_the_admin_exported_still_imports_from_it(name):
    assert getattr(package, name) is not None
    assert name in package.__all__


@pytest.mark.parametrize(("model", "name"), REGISTERED.items(), ids=lambda v: str(v))
def test_each_model_is_registered_with_the_admin_exported_under_its_name(model, name):
    assert type(admin.site._registry[model]) is getattr(package, name)


def test_the_submodules_tests_import_are_still_there():
    from django_xunchen.admin import dashboard, pagination

    assert hasattr(dashboard, "OVERDUE_CAP") and hasattr(pagination, "ESTIMATE_ABOVE")


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ADMIN)))
def test_no_admin_module_is_over_600_lines(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 600


def writes_in(path: Path, root: Path = ADMIN) -> list[str]:
    """The calls in ``path`` that write, in line order: a write method, ``.update(`` with
    keyword arguments only (a queryset's, not a dict's or a set's), or Django's own
    ``save_model`` or deletion reached through ``super()``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        name, receiver = node.func.attr, ast.unparse(node.func.value)
        if (
            name in WRITES
            or (name == "update" and node.keywords and not node.args)
            or (receiver == "super()" and name in DJANGO_WRITES)
        ):
            found.append(
                (node.lineno, f"{path.relative_to(root)}:{node.lineno}: {ast.unparse(node)}")
            )
    return [text for _line, text in sorted(found)]


def test_no_admin_module_writes_a_row_itself():
    assert [w for path in modules() for w in writes_in(path)] == []


def test_the_write_finder_sees_a_write(tmp_path):
    """The gate above fails when there is a write to find."""
    module = tmp_path / "action.py"
    module.write_text(
        "def act(queryset, obj, attrs, request, form):\n"
        "    attrs.update({'a': 1})\n"
        "    queryset.update(state='pending', attempts=0)\n"
        "    obj.save()\n"
        "    super().save_model(request, obj, form, False)\n"
    )
    assert writes_in(module, tmp_path) == [
        "action.py:3: queryset.update(state='pending', attempts=0)",
        "action.py:4: obj.save()",
        "action.py:5: super().save_model(request, obj, form, False)",
    ]
