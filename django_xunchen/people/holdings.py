"""Where a number is held: every row of every table of the app that has it in a text,
JSON or binary column, found by looking at the columns themselves, so that a table
added later is covered without a list kept by hand."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.apps import apps
from django.db import models
from django.db.models import Q, TextField
from django.db.models.functions import Cast

APP = "django_xunchen"
#: Columns never shown in an export: they derive or prove a verification code, or sign
#: webhooks.
SECRET_COLUMNS = {
    ("verificationcode", "nonce"),
    ("verificationcode", "code_hash"),
    ("webhookendpoint", "secret"),
}
#: Rows of binary columns read per query.
BINARY_BATCH = 200


@dataclass
class Held:
    """The rows of one model that mention the number, and the columns that do."""

    model: type[models.Model]
    rows: list[models.Model]

    @property
    def name(self) -> str:
        return self.model._meta.model_name


def text_columns(model: type[models.Model]) -> list[models.Field]:
    return [
        f
        for f in model._meta.concrete_fields
        if isinstance(f, (models.CharField, models.TextField, models.JSONField))
    ]


def binary_columns(model: type[models.Model]) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if isinstance(f, models.BinaryField)]


def app_models() -> list[type[models.Model]]:
    return list(apps.get_app_config(APP).get_models())


def mentioning(model: type[models.Model], number: str) -> models.QuerySet:
    """The rows of ``model`` with ``number`` in a text or JSON column (none for a model
    without one)."""
    columns = text_columns(model)
    query = model._default_manager.all()
    condition = Q()
    for column in columns:
        if isinstance(column, models.JSONField):
            alias = f"_as_text_{column.name}"
            query = query.alias(**{alias: Cast(column.name, TextField())})
            condition |= Q(**{f"{alias}__contains": number})
        else:
            condition |= Q(**{f"{column.name}__contains": number})
    if not columns:
        return query.none()
    return query.filter(condition)


def with_binary(model: type[models.Model], number: str) -> Iterator[models.Model]:
    """The rows of ``model`` with ``number`` in a binary column (a raw poll answer, a
    piece of an uploaded file), read :data:`BINARY_BATCH` at a time."""
    columns = binary_columns(model)
    if not columns:
        return
    needle = number.encode("ascii")
    last = 0
    manager = model._default_manager
    while True:
        batch = list(manager.filter(pk__gt=last).order_by("pk")[:BINARY_BATCH])
        if not batch:
            return
        for row in batch:
            if any(needle in bytes(getattr(row, c.attname) or b"") for c in columns):
                yield row
        last = batch[-1].pk


def holdings(number: str) -> list[Held]:
    """Every model's rows that mention ``number``, models without any left out."""
    found = []
    for model in app_models():
        rows = list(mentioning(model, number).order_by("pk"))
        known = {r.pk for r in rows}
        rows += [r for r in with_binary(model, number) if r.pk not in known]
        if rows:
            found.append(Held(model, rows))
    return found
