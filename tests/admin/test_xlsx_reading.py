"""The XLSX reader streams the sheet and packs the shared strings, but reads every file as
openpyxl does (read-only, ``data_only``): each workbook here is read both ways and must
give the same rows, from those Excel and openpyxl write to hand-made parts with rich text,
inline strings, missing rows and cells, cached formula values, errors and the 1904 epoch."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import openpyxl
import pytest

from django_xunchen.uploads import UploadError, cell_text, read_rows
from django_xunchen.uploads.xlsx_files import SharedStrings

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def as_openpyxl_reads(data: bytes) -> list[list[str]]:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    sheet = book.worksheets[0]
    sheet.reset_dimensions()
    rows = [[cell_text(value) for value in row] for row in sheet.iter_rows(values_only=True)]
    book.close()
    return rows


def as_we_read(data: bytes) -> list[list[str]]:
    return list(read_rows(io.BytesIO(data), "people.xlsx"))


def written(rows, *, date1904: bool = False, formats: dict[int, str] | None = None) -> bytes:
    book = openpyxl.Workbook()
    book.epoch = openpyxl.utils.datetime.CALENDAR_MAC_1904 if date1904 else book.epoch
    for row in rows:
        book.active.append(row)
    for column, number_format in (formats or {}).items():
        for (cell,) in book.active.iter_rows(min_col=column, max_col=column):
            cell.number_format = number_format
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def replaced(data: bytes, parts: dict[str, bytes]) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, parts.pop(info.filename, source.read(info)))
        for name, part in parts.items():
            target.writestr(name, part)
    return out.getvalue()


def sheet(body: str) -> bytes:
    return f'<worksheet xmlns="{MAIN}"><sheetData>{body}</sheetData></worksheet>'.encode()


def shared(*items: str) -> bytes:
    body = "".join(f"<si>{item}</si>" for item in items)
    return f'<sst xmlns="{MAIN}" count="{len(items)}">{body}</sst>'.encode()


STRINGS_TYPE = (
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
)


def with_parts(body: str, *strings: str, base: bytes | None = None) -> bytes:
    """An openpyxl workbook whose sheet is ``body`` and whose shared strings are
    ``strings`` (declared in the content types, as Excel does)."""
    base = base or written([["x", dt.datetime(2026, 1, 2, 3, 4, 5)]])
    types = zipfile.ZipFile(io.BytesIO(base)).read("[Content_Types].xml").decode()
    if "sharedStrings" not in types:
        types = types.replace("</Types>", STRINGS_TYPE + "</Types>")
    return replaced(
        base,
        {
            "xl/worksheets/sheet1.xml": sheet(body),
            "xl/sharedStrings.xml": shared(*strings),
            "[Content_Types].xml": types.encode(),
        },
    )


WRITTEN = {
    "texts, numbers and a blank": [
        ["手机号", "name", None, "note"],
        [13800138000, "张三", 1.5, ""],
    ],
    "a number Excel shortened": [[1.38e10, 13800138000.0, -0.25, 10**15]],
    "dates and times": [[dt.datetime(2026, 12, 6, 8, 30), dt.date(2026, 1, 31), dt.time(7, 5)]],
    "a duration": [[dt.timedelta(hours=30, minutes=5)]],
    "booleans and a formula": [[True, False, "=1+1"]],
    "rows of different lengths": [["a"], [None, None, "c"], [], ["d", "e"]],
}


@pytest.mark.parametrize("rows", WRITTEN.values(), ids=WRITTEN.keys())
def test_a_workbook_openpyxl_wrote_reads_the_same(rows):
    data = written(rows)
    assert as_we_read(data) == as_openpyxl_reads(data)


def test_the_1904_epoch_and_number_formats_that_make_dates():
    data = written(
        [[45000, 45000.75, 1.5, 0.25]],
        date1904=True,
        formats={1: "yyyy-mm-dd", 2: "d/m/yy h:mm", 3: "[h]:mm:ss", 4: "h:mm"},
    )
    ours = as_we_read(data)
    assert ours == as_openpyxl_reads(data)
    assert ours[0][0] == "2027-03-16 00:00:00"  # 45000 days after 1904-01-01


HAND_MADE = {
    "rich text and phonetic guides": (
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>',
        "<t>plain</t>",
        '<r><t>bo</t></r><r><rPr><b/></rPr><t>ld</t></r><rPh sb="0" eb="2"><t>ふりがな</t></rPh>',
    ),
    "an escaped underscore": ('<row r="1"><c r="A1" t="s"><v>0</v></c></row>', "<t>a_x005F_b</t>"),
    "inline strings": (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>in</t></is></c>'
        '<c r="B1" t="inlineStr"><is><r><t>li</t></r><r><t>ne</t></r></is></c>'
        '<c r="C1" t="inlineStr"/></row>',
    ),
    "missing rows, cells out of order and without references": (
        '<row r="2"><c r="C2"><v>3</v></c><c r="A2"><v>1</v></c></row>'
        "<row><c><v>7</v></c><c><v>8</v></c></row>"
        '<row r="6"><c r="B6" t="b"><v>1</v></c></row>',
    ),
    "a row again and a row out of order": (
        '<row r="2"><c r="A2"><v>1</v></c></row><row r="2"><c r="A2"><v>2</v></c></row>'
        '<row r="1"><c r="A1"><v>0</v></c></row><row r="3"><c r="A3"><v>3</v></c></row>',
    ),
    "cached formula values, errors and ISO dates": (
        '<row r="1"><c r="A1"><f>1+1</f><v>2</v></c><c r="B1" t="str"><f>"a"</f><v>a</v></c>'
        '<c r="C1" t="e"><v>#N/A</v></c><c r="D1" t="d"><v>2026-12-06T08:30:00</v></c>'
        '<c r="E1"><f>X()</f></c><c r="F1" t="n"><v>1E+3</v></c></row>',
    ),
    "a date style on a number too large for a date": (
        '<row r="1"><c r="A1" s="1"><v>1e20</v></c><c r="B1" s="1"><v>45000</v></c></row>',
    ),
    "lower-case references and a row numbered 2.0": ('<row r="2.0"><c r="b2"><v>5</v></c></row>',),
}


@pytest.mark.filterwarnings("ignore:Cell A1 is marked as a date")  # openpyxl's, on 1e20
@pytest.mark.parametrize("case", HAND_MADE.values(), ids=HAND_MADE.keys())
def test_a_hand_made_workbook_reads_the_same(case):
    data = with_parts(*case)
    assert as_we_read(data) == as_openpyxl_reads(data)


def test_a_workbook_without_shared_strings_or_styles():
    base = written([[1]])
    source = zipfile.ZipFile(io.BytesIO(base))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            if info.filename not in ("xl/styles.xml", "xl/sharedStrings.xml"):
                target.writestr(info.filename, source.read(info))
    data = out.getvalue()
    assert as_we_read(data) == as_openpyxl_reads(data) == [["1"]]


def test_a_shared_string_index_past_the_table_names_the_row():
    data = with_parts('<row r="1"><c r="A1" t="s"><v>5</v></c></row>', "<t>only</t>")
    with pytest.raises(UploadError, match="Row 1 of the XLSX file cannot be read"):
        as_we_read(data)


def test_shared_strings_are_packed_and_read_back():
    source = io.BytesIO(shared("<t>13800138000</t>", "<t>张三</t>", "<t></t>", "<t>\U0001f600</t>"))
    strings = SharedStrings(source)
    assert list(strings) == ["13800138000", "张三", "", "\U0001f600"]
    assert strings[1:3] == ["张三", ""]
    with pytest.raises(IndexError):
        strings[4]
    with pytest.raises(IndexError):
        strings[-1]  # a negative index in a sheet is a broken file, not the last string
