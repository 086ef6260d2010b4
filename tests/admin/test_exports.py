"""Every export is safe to open in a spreadsheet: a cell a spreadsheet would run as a
formula is neutralised in CSV (a single quote in front) and written as a string in XLSX,
and each file is served with its own content type and an attachment filename. Each file
is read back as a spreadsheet program would: CSV with the csv module, XLSX with
openpyxl."""

import csv
import io

import openpyxl
import pytest
from django.urls import reverse

from django_xunchen import campaigns
from django_xunchen.exports import CONTENT_TYPES, export_response, safe_cell, write_xlsx
from django_xunchen.models import Campaign, CampaignRecipient, InboundMessage, Suppression
from django_xunchen.policy.replies import apply_reply_keywords

pytestmark = pytest.mark.django_db
SUPPRESSIONS = reverse("admin:django_xunchen_suppression_changelist")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: What a hostile phone or file sends: a cell for each start a spreadsheet runs.
FORMULAS = [
    '=T("")&HYPERLINK("http://evil.example","退订")',
    '=HYPERLINK("http://evil.example","点此")',
    "+1-2+3",
    "-3+3",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
]


def csv_rows(response) -> list[list[str]]:
    assert response.content.startswith("\ufeff".encode()), "a BOM, for Excel to read UTF-8"
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))


def export(client, fmt):
    return client.post(
        SUPPRESSIONS,
        {
            "action": f"export_{fmt}",
            "_selected_action": list(Suppression.objects.values_list("pk", flat=True)),
        },
    )


@pytest.mark.parametrize("cell", FORMULAS)
def test_safe_cell_puts_a_quote_before_each_formula_start(cell):
    assert safe_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["退订", "13800138000", "a=b", "'=x", "", " =1"])
def test_safe_cell_leaves_other_text_alone(cell):
    assert safe_cell(cell) == cell


def test_safe_cell_leaves_numbers_and_none_alone():
    assert safe_cell(-3) == -3 and safe_cell(None) is None and safe_cell(1.5) == 1.5


def test_an_opt_out_reply_that_is_a_formula_is_exported_as_text(admin_client):
    """The report's case: any phone replies this; it opts the number out (it starts
    with T) and becomes the cause; the export must not hand it to Excel as a formula."""
    reply = InboundMessage.objects.create(mobile="13800138000", recvcode="106", content=FORMULAS[0])
    apply_reply_keywords([reply])
    assert Suppression.objects.get().cause == FORMULAS[0]
    _header, row = csv_rows(export(admin_client, "csv"))
    assert row[3] == "'" + FORMULAS[0]
    book = openpyxl.load_workbook(io.BytesIO(export(admin_client, "xlsx").content))
    cell = book.active["D2"]
    assert (cell.data_type, cell.value) == ("s", FORMULAS[0])


@pytest.mark.parametrize("cell", FORMULAS)
def test_the_suppression_csv_export_neutralises_each_formula(admin_client, cell):
    Suppression.objects.create(mobile="13800138000", source="staff", cause=cell)
    response = export(admin_client, "csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="suppression-')
    assert response["Content-Disposition"].endswith('.csv"')
    header, row = csv_rows(response)
    assert header == ["mobile", "scope", "source", "cause", "since"]
    assert row[:4] == ["13800138000", "marketing", "staff", "'" + cell]


@pytest.mark.parametrize("cell", [*FORMULAS, "#N/A", "#REF!"])
def test_the_suppression_xlsx_export_writes_each_formula_as_a_string(admin_client, cell):
    Suppression.objects.create(mobile="13800138000", source="staff", cause=cell)
    response = export(admin_client, "xlsx")
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    assert response["Content-Disposition"].endswith('.xlsx"')
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    written = book.active["D2"]
    assert written.data_type == "s", "a string cell, not a formula (f) nor an error (e)"
    # XML turns a carriage return into a line feed; either way it is text.
    assert written.value in (cell, cell.replace("\r", "\n"))
    assert [c.value for c in book.active[1]] == ["mobile", "scope", "source", "cause", "since"]


def test_the_xlsx_export_replaces_what_xml_cannot_hold(admin_client):
    """A control character in a reply would make openpyxl refuse the whole file."""
    Suppression.objects.create(mobile="13800138000", source="reply", cause="退订\x01\x1b=1")
    response = export(admin_client, "xlsx")
    assert response.status_code == 200
    cell = openpyxl.load_workbook(io.BytesIO(response.content)).active["D2"]
    assert cell.value == "退订\ufffd\ufffd=1"


def problems_of(client, campaign):
    response = client.get(reverse("admin:django_xunchen_campaign_problems", args=[campaign.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        response["Content-Disposition"]
        == f'attachment; filename="campaign-{campaign.pk}-problems.csv"'
    )
    return csv_rows(response)


@pytest.mark.parametrize("cell", FORMULAS)
def test_the_problems_csv_neutralises_each_formula_in_mobile_and_detail(admin_client, cell):
    campaign = Campaign.objects.create(name="x", kind="notification", content="您好")
    CampaignRecipient.objects.create(
        campaign=campaign, row=2, mobile=cell[:40], problem="invalid", detail=cell
    )
    header, row = problems_of(admin_client, campaign)
    assert header == ["row", "mobile", "problem", "detail"]
    assert row == ["2", "'" + cell[:40], "invalid number", "'" + cell]


def test_formula_cells_of_an_uploaded_file_come_back_neutralised(admin_client):
    """The whole path: a CSV with a formula in each row, staged, then its problems
    downloaded."""
    campaign = Campaign.objects.create(name="x", kind="notification", content="您好")
    cells = ['=HYPERLINK("http://evil.example","x")', "+1-2+3", "-3+3", "@SUM(1+1)"]
    body = "手机号码\n13800138000\n" + "\n".join(
        f'"{c.replace(chr(34), chr(34) * 2)}"' for c in cells
    )
    campaigns.stage(campaign, io.BytesIO(body.encode()), "名单.csv")
    _header, *rows = problems_of(admin_client, campaign)
    assert [row[1] for row in rows] == ["'" + c for c in cells]
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_export_response_names_the_file_and_its_type():
    csv_response = export_response("csv", "report", ["a"], [["=1"]])
    assert csv_response["Content-Type"] == CONTENT_TYPES["csv"]
    assert csv_response["Content-Disposition"] == 'attachment; filename="report.csv"'
    xlsx_response = export_response("xlsx", "名单.xlsx", ["a"], [["=1"]])
    assert xlsx_response["Content-Type"] == XLSX
    assert "filename*=utf-8''%E5%90%8D%E5%8D%95.xlsx" in xlsx_response["Content-Disposition"]
    with pytest.raises(ValueError):
        export_response("xls", "x", [], [])


def test_write_xlsx_keeps_numbers_as_numbers_and_every_text_a_string():
    buffer = io.BytesIO()
    write_xlsx(buffer, ["n", "text"], [[1, "=1+1"], [2.5, "#N/A"], [None, "@x"]])
    sheet = openpyxl.load_workbook(buffer).active
    assert [(c.value, c.data_type) for c in sheet["A"]][1:] == [(1, "n"), (2.5, "n"), (None, "n")]
    assert [(c.value, c.data_type) for c in sheet["B"]][1:] == [
        ("=1+1", "s"),
        ("#N/A", "s"),
        ("@x", "s"),
    ]
