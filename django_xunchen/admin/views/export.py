"""The message log's export: the list as staff filtered and searched it, as CSV streamed
row by row (a million rows are never held), or as XLSX up to :data:`XLSX_MAX_ROWS` rows.
Every cell is safe to open in a spreadsheet (:mod:`django_xunchen.exports`)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _

from ...exports import export_response, safe_cell, xlsx_available
from ...models import Message
from ..audit import audit

#: The most rows an XLSX export holds (a workbook is built whole in memory); the CSV
#: export has no limit.
XLSX_MAX_ROWS = 100_000
#: Rows read from the database per query while streaming.
CHUNK = 2000
COLUMNS = [
    "id",
    "created_at",
    "mobile",
    "account",
    "kind",
    "status",
    "content",
    "parts",
    "msgid",
    "report_status",
    "reported_at",
    "error_code",
    "error_message",
    "campaign_id",
    "batch",
    "tags",
]


def rows(queryset: QuerySet[Message]) -> Iterator[list[Any]]:
    """The export's rows of ``queryset``, read :data:`CHUNK` at a time."""
    values = queryset.order_by("pk").values_list(*COLUMNS).iterator(chunk_size=CHUNK)
    for row in values:
        yield [_text(v) for v in row]


def csv_lines(queryset: QuerySet[Message]) -> Iterator[bytes]:
    """The CSV file of ``queryset``, as bytes a few rows at a time: a byte order mark,
    the header, then the rows, every cell through :func:`~django_xunchen.exports.safe_cell`."""
    buffer = _Lines()
    writer = csv.writer(buffer)
    yield "\ufeff".encode()
    writer.writerow(COLUMNS)
    yield buffer.take()
    batch = 0
    for row in rows(queryset):
        writer.writerow([safe_cell(v) for v in row])
        batch += 1
        if batch >= 200:
            yield buffer.take()
            batch = 0
    yield buffer.take()


def export_view(model_admin, request: HttpRequest, fmt: str):
    model_admin.require(request, "export_log")
    back = reverse("admin:django_xunchen_message_changelist") + _query(request)
    try:
        queryset = model_admin.get_changelist_instance(request).get_queryset(request)
    except IncorrectLookupParameters:
        return HttpResponseRedirect(reverse("admin:django_xunchen_message_changelist") + "?e=1")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    if fmt == "xlsx":
        if not xlsx_available():
            model_admin.message_user(
                request, _("Install django-xunchen[spreadsheets] to export."), messages.ERROR
            )
            return HttpResponseRedirect(back)
        count = queryset[: XLSX_MAX_ROWS + 1].count()
        if count > XLSX_MAX_ROWS:
            model_admin.message_user(
                request,
                _("XLSX holds at most %(max)d rows: filter the list further, or export CSV.")
                % {"max": XLSX_MAX_ROWS},
                messages.ERROR,
            )
            return HttpResponseRedirect(back)
        audit(request, "export", Message, count, detail="XLSX")
        return export_response("xlsx", f"messages-{stamp}", COLUMNS, rows(queryset))
    audit(request, "export", Message, queryset.count(), detail="CSV")
    response = StreamingHttpResponse(csv_lines(queryset), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, f"messages-{stamp}.csv")
    response["X-Content-Type-Options"] = "nosniff"
    return response


class _Lines:
    """What csv.writer writes, kept until taken."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)

    def take(self) -> bytes:
        data = "".join(self.parts).encode("utf-8")
        self.parts.clear()
        return data


def _text(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return (
            timezone.localtime(value).isoformat() if timezone.is_aware(value) else value.isoformat()
        )
    if isinstance(value, (list, dict)):
        return ",".join(map(str, value)) if isinstance(value, list) else str(value)
    if value is None:
        return ""
    return value if isinstance(value, (int, str)) else str(value)


def _query(request: HttpRequest) -> str:
    query = request.GET.urlencode()
    return f"?{query}" if query else ""
