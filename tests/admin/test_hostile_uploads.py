"""Hostile files given to the suppression import: each one is refused with a reason on
the form (never a server error), and nothing of it is written, not even the good rows
before the bad one. The checks are :mod:`django_xunchen.uploads`', which campaigns use
too; a good file goes in at once, in one transaction."""

from __future__ import annotations

import io
import time
import zipfile

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.defaultfilters import filesizeformat
from django.urls import reverse

from django_xunchen.models import Suppression
from django_xunchen.uploads import MAX_CELL, UploadError, check_upload, read_rows

pytestmark = pytest.mark.django_db
IMPORT = reverse("admin:django_xunchen_suppression_import")
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
GOOD = "手机号\n13800138000\n13900139000\n"


def xlsx(rows) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def with_sheet(xml: bytes | None = None, *, extra: dict[str, bytes] | None = None) -> bytes:
    """A real XLSX whose first sheet is ``xml`` (and with ``extra`` parts)."""
    source = zipfile.ZipFile(io.BytesIO(xlsx([["13800138000"]])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml" and xml is not None:
                data = xml
            target.writestr(info.filename, data)
        for name, data in (extra or {}).items():
            target.writestr(name, data)
    return out.getvalue()


def sheet_xml(rows: int, *, dimension: str | None = None, first: int = 1) -> bytes:
    head = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    )
    if dimension:
        head += f'<dimension ref="{dimension}"/>'.encode()
    body = b"".join(
        f'<row r="{n}"><c r="A{n}"><v>13800138000</v></c></row>'.encode()
        for n in range(first, first + rows)
    )
    return head + b"<sheetData>" + body + b"</sheetData></worksheet>"


def post(client, name: str, data: bytes, scope="marketing"):
    client.raise_request_exception = False
    return client.post(IMPORT, {"file": SimpleUploadedFile(name, data), "scope": scope})


def refused(response, *words: str) -> str:
    """The form came back with an error on the file naming ``words``; nothing written."""
    assert response.status_code == 200, response.status_code
    errors = response.context["form"].errors.get("file", [])
    assert errors, response.context["form"].errors
    text = " ".join(errors)
    for word in words:
        assert word in text, text
    assert not Suppression.objects.exists()
    return text


@pytest.fixture
def small_caps(settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "UPLOAD_MAX_BYTES": 100_000, "UPLOAD_MAX_ROWS": 5}


# --------------------------------------------------------------------------- refused


def test_gbk_with_invalid_bytes_names_the_line(admin_client):
    data = "手机号\n13800138000\n".encode("gbk") + b"\x80\xff\n13900139000\n"
    refused(post(admin_client, "numbers.csv", data), "Line 3", "UTF-8", "GBK")


def test_a_png_named_csv(admin_client):
    refused(post(admin_client, "numbers.csv", PNG), "PNG")


def test_a_png_named_xlsx(admin_client):
    refused(post(admin_client, "numbers.xlsx", PNG), "PNG")


def test_an_old_xls_named_xlsx_and_an_xlsx_named_csv(admin_client):
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600
    refused(post(admin_client, "numbers.xlsx", ole), ".xls")
    refused(post(admin_client, "numbers.csv", xlsx([["13800138000"]])), "XLSX")


def test_a_5_mb_cell(admin_client):
    data = b"13800138000\n" + b"1" * (5 << 20) + b"\n13900139000\n"
    refused(post(admin_client, "numbers.csv", data), "Row 2", str(MAX_CELL))


def test_a_cell_longer_than_excel_allows_after_good_rows_leaves_nothing(admin_client):
    """The check before reading passes (it decodes); the row is refused while the rows
    are written: the rows before it are rolled back."""
    data = GOOD + "13700137000\n" + "x" * (MAX_CELL + 1) + "\n"
    refused(post(admin_client, "numbers.csv", data.encode()), "Row 5")


def test_a_file_over_the_size_cap(admin_client, small_caps):
    data = ("13800138000\n" * 9000).encode()
    refused(post(admin_client, "numbers.csv", data), *map(filesizeformat, (108_000, 100_000)))


def test_a_csv_over_the_row_cap(admin_client, small_caps):
    data = "手机号\n" + "".join(f"1380013800{n}\n" for n in range(6))
    refused(post(admin_client, "numbers.csv", data.encode()), "more than 5 rows")


def test_a_csv_at_the_row_cap_goes_in(admin_client, small_caps):
    data = "手机号\n" + "".join(f"1380013800{n}\n" for n in range(5))
    assert post(admin_client, "numbers.csv", data.encode()).status_code == 302
    assert Suppression.objects.count() == 5


def test_an_xlsx_over_the_row_cap(admin_client, small_caps):
    data = xlsx([["手机号"], *([f"1380013800{n}"] for n in range(6))])
    refused(post(admin_client, "numbers.xlsx", data), "more than 5 rows")


def test_an_empty_file(admin_client):
    # Django's FileField refuses an empty upload itself; the check refuses it too.
    assert post(admin_client, "numbers.csv", b"").status_code == 200
    assert not Suppression.objects.exists()
    with pytest.raises(UploadError, match="empty"):
        check_upload(io.BytesIO(b""), "numbers.csv")


def test_a_csv_with_nul_bytes(admin_client):
    data = b"13800138000\n1390\x00139000\n"
    refused(post(admin_client, "numbers.csv", data), "Line 2", "NUL")


def test_a_row_with_too_many_cells(admin_client):
    data = GOOD + "13700137000" + "," * 1500 + "\n"
    refused(post(admin_client, "numbers.csv", data.encode()), "Row 4", "1000 cells")


def test_a_line_of_millions_of_commas_is_refused_before_csv_splits_it(admin_client):
    """csv would make a list of 20 million cells first: gigabytes."""
    data = b"13800138000\n" + b"," * (20 << 20) + b"\n"
    refused(post(admin_client, "numbers.csv", data), "Row 2", "1000 cells")


def test_a_zip_bomb_whose_parts_unzip_past_the_cap(admin_client, small_caps):
    """1 MB of sheet from a few kilobytes: refused from the ZIP's directory, before
    openpyxl opens it."""
    padded = sheet_xml(1).replace(b"<sheetData>", b"<sheetData>" + b" " * (5 << 20))
    data = with_sheet(padded)
    assert len(data) < 100_000
    refused(post(admin_client, "numbers.xlsx", data), "unzips to", filesizeformat(1_000_000))


def test_a_bomb_in_the_shared_strings(admin_client, small_caps):
    strings = b"<sst>" + b" " * 200_000 + b"</sst>"
    data = with_sheet(extra={"xl/sharedStrings2.xml": strings})
    refused(post(admin_client, "numbers.xlsx", data), "unzips to", filesizeformat(100_000))


def test_an_xlsx_whose_dimension_declares_too_many_rows(admin_client, small_caps):
    data = with_sheet(sheet_xml(2, dimension="A1:C5000000"))
    refused(post(admin_client, "numbers.xlsx", data), "more than 5 rows")


def test_an_xlsx_whose_dimension_lies_is_counted(admin_client, small_caps):
    data = with_sheet(sheet_xml(40, dimension="A1:A1"))
    refused(post(admin_client, "numbers.xlsx", data), "more than 5 rows")


def test_an_xlsx_whose_one_row_is_numbered_a_billion(admin_client):
    """openpyxl would yield the empty rows of the gap, a billion of them."""
    data = with_sheet(sheet_xml(1, first=999_999_999))
    refused(post(admin_client, "numbers.xlsx", data), "more than 1000000 rows")


def test_an_xlsx_of_5_million_rows_from_a_small_file_is_refused_quickly(admin_client):
    """The report's file: an XLSX of about a megabyte that unzips to five million rows;
    refused as its rows are counted in the unzipped XML, never loaded."""
    rows = b"<row><c><v>13800138000</v></c></row>" * 100_000  # r= is optional
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx([["1"]]))) as source:
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
            for info in source.infolist():
                if info.filename != "xl/worksheets/sheet1.xml":
                    target.writestr(info.filename, source.read(info))
            with target.open("xl/worksheets/sheet1.xml", "w") as sheet:
                sheet.write(sheet_xml(0).replace(b"</sheetData></worksheet>", b""))
                for _ in range(50):
                    sheet.write(rows)
                sheet.write(b"</sheetData></worksheet>")
    data = out.getvalue()
    assert len(data) < 2 << 20
    started = time.monotonic()
    refused(post(admin_client, "numbers.xlsx", data), "more than 1000000 rows")
    assert time.monotonic() - started < 30


def test_an_xlsx_with_too_many_parts(admin_client):
    data = with_sheet(extra={f"junk/{n}.xml": b"" for n in range(1001)})
    refused(post(admin_client, "numbers.xlsx", data), "parts", "1000")


def test_a_truncated_xlsx(admin_client):
    data = xlsx([["13800138000"]])
    refused(post(admin_client, "numbers.xlsx", data[: len(data) // 2]), "not a readable XLSX")


def test_an_xlsx_cell_longer_than_excel_allows(admin_client):
    xml = sheet_xml(1).replace(
        b"<v>13800138000</v></c>",
        b'</c><c r="B1" t="inlineStr"><is><t>' + b"x" * (MAX_CELL + 1) + b"</t></is></c>",
    )
    refused(post(admin_client, "numbers.xlsx", with_sheet(xml)), "Row 1", str(MAX_CELL))


def test_a_file_neither_csv_nor_xlsx(admin_client):
    refused(post(admin_client, "numbers.pdf", b"%PDF-1.4\n"), "numbers.pdf")


# --------------------------------------------------------------------------- taken


def test_a_good_file_goes_in_with_its_header_skipped_and_bad_rows_named(admin_client):
    Suppression.objects.create(mobile="13900139000", source="reply", scope="all")
    data = GOOD + "not a number\n\n13800138000\n"
    response = post(admin_client, "numbers.csv", data.encode("gbk"), scope="marketing")
    assert response.status_code == 302
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == [
        "1 number added to the suppression list. 1 was already on it. "
        "Not numbers, skipped: 4: not a number"
    ]
    assert dict(Suppression.objects.values_list("mobile", "source")) == {
        "13800138000": "import",
        "13900139000": "reply",
    }


def test_read_rows_gives_the_rows_of_both_kinds():
    csv_rows = list(read_rows(io.BytesIO("号码,姓名\n13800138000,张三\n".encode()), "a.csv"))
    assert csv_rows == [["号码", "姓名"], ["13800138000", "张三"]]
    xlsx_rows = list(read_rows(io.BytesIO(xlsx([["号码"], [13800138000]])), "a.xlsx"))
    assert xlsx_rows == [["号码"], ["13800138000"]]
    found = check_upload(io.BytesIO("号码\n13800138000\n".encode("gbk")), "a.csv")
    assert (found.kind, found.rows, found.encoding) == ("csv", 2, "gb18030")
