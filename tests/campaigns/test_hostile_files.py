"""Hostile campaign files: each is refused with a reason for staff, never a server error,
and leaves nothing behind (no campaign from the form, no row, no stored file), whether
it is checked in the upload's request or in the background."""

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape

from django_xunchen.campaigns import checking
from django_xunchen.models import Campaign, CampaignFileChunk, CampaignRecipient

pytestmark = pytest.mark.django_db(transaction=True)
ADD = reverse("admin:django_xunchen_campaign_add")
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8


def good_lines(count=30):
    return ["手机号码,姓名"] + [f"138{i:08d},张{i}" for i in range(count)]


def csv_bytes(lines, encoding="utf-8"):
    return "\r\n".join(lines).encode(encoding)


def xlsx_bytes(rows):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    data = io.BytesIO()
    book.save(data)
    return data.getvalue()


def good_xlsx(count=30):
    return xlsx_bytes([["手机号码", "姓名"]] + [[f"138{i:08d}", f"张{i}"] for i in range(count)])


def rezipped(data, change):
    """The XLSX ``data`` with its sheet's XML passed through ``change``."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                content = change(content)
            target.writestr(info.filename, content)
    return out.getvalue()


def gbk_with_invalid_bytes():
    head = csv_bytes(good_lines(3), "gbk")
    return head + b"\r\n13900139000,\xff\xfe\xff\r\n13700137000,ok"


def broken_sheet():
    """A well-formed ZIP whose sheet's XML breaks off after row 26."""

    def cut(xml):
        at = xml.index(b'<row r="27"')
        return xml[: at + 20]

    return rezipped(good_xlsx(), cut)


def zip_bomb():
    """A valid workbook whose sheet unzips to 32 MB (of padding), a few kB zipped."""
    return rezipped(
        good_xlsx(), lambda xml: xml.replace(b"<sheetData>", b" " * (32 << 20) + b"<sheetData>")
    )


def big_cell_xlsx():
    """A 5 MB cell (openpyxl writes no more than Excel holds: the XML is edited)."""
    rows = [["手机号码", "姓名"], ["13800138000", "张三"], ["13900139000", "x" * 32767]]
    return rezipped(xlsx_bytes(rows), lambda xml: xml.replace(b"x" * 32767, b"x" * (5 << 20)))


#: name, file name, content, settings, what the refusal says.
HOSTILE = [
    ("png-named-csv", "a.csv", PNG, {}, "holds a PNG image"),
    ("png-named-xlsx", "a.xlsx", PNG, {}, "holds a PNG image"),
    ("xlsx-named-csv", "a.csv", None, {}, "holds an XLSX workbook"),
    ("text-named-xlsx", "a.xlsx", b"13800138000,abc\r\n", {}, "a.xlsx holds"),
    ("gbk-invalid-bytes", "a.csv", gbk_with_invalid_bytes(), {}, "Line 5 is neither UTF-8 nor GBK"),
    ("utf16-nul-bytes", "a.csv", "手机\r\n13800138000".encode("utf-16-le"), {}, "NUL byte"),
    ("zip-bomb", "a.xlsx", None, {"UPLOAD_MAX_BYTES": 1 << 20}, "unzips to"),
    (
        "5mb-cell-csv",
        "a.csv",
        None,
        {},
        "more than 32767 characters",
    ),
    ("5mb-cell-xlsx", "a.xlsx", None, {}, "more than 32767 characters"),
    (
        "over-the-size-cap",
        "a.csv",
        csv_bytes(good_lines(100)),
        {"UPLOAD_MAX_BYTES": 1000},
        "allowed",
    ),
    (
        "over-the-row-cap",
        "a.csv",
        csv_bytes(good_lines(6)),
        {"UPLOAD_MAX_ROWS": 5},
        "more than 5 rows",
    ),
    ("over-the-row-cap-xlsx", "a.xlsx", None, {"UPLOAD_MAX_ROWS": 5}, "more than 5 rows"),
    ("empty", "a.csv", b"", {}, "is empty."),
    (
        "no-number-column",
        "a.csv",
        csv_bytes(["姓名,城市"] + ["张三,北京"] * 30),
        {},
        "No mobile number",
    ),
    ("broken-sheet-xml", "a.xlsx", None, {}, "Row 27 of the XLSX file cannot be read"),
    ("cut-zip", "a.xlsx", None, {}, "not a readable XLSX file"),
]
BUILT = {
    "xlsx-named-csv": good_xlsx,
    "zip-bomb": zip_bomb,
    "5mb-cell-csv": lambda: csv_bytes([*good_lines(2), "13700137000," + "x" * (5 << 20)]),
    "5mb-cell-xlsx": big_cell_xlsx,
    "over-the-row-cap-xlsx": lambda: good_xlsx(6),
    "broken-sheet-xml": broken_sheet,
    "cut-zip": lambda: good_xlsx()[:3000],
}


def post(client, name, content):
    return client.post(
        ADD,
        {
            "name": "hostile",
            "kind": "notification",
            "account": "default",
            "content": "@1@您好",
            "file": SimpleUploadedFile(name, content, "application/octet-stream"),
        },
    )


@pytest.mark.parametrize("where", ["request", "background"])
@pytest.mark.parametrize(
    ("case", "name", "content", "caps", "reason"), HOSTILE, ids=[h[0] for h in HOSTILE]
)
def test_a_hostile_file_is_refused_with_nothing_staged(
    where, case, name, content, caps, reason, settings, admin_client
):
    background = {"CAMPAIGN_BACKGROUND_FROM_ROWS": 1} if where == "background" else {}
    settings.XUNCHEN = {**settings.XUNCHEN, **caps, **background}
    content = BUILT[case]() if content is None else content
    response = post(admin_client, name, content)
    if response.status_code == 200:  # refused by the form, before anything was stored
        assert escape(reason) in response.content.decode()
        assert not Campaign.objects.exists()
    else:  # only stored: the check in the background refuses it
        assert where == "background" and response.status_code == 302
        assert Campaign.objects.get().state == "checking"
        assert checking.check_waiting() == 1
        campaign = Campaign.objects.get()
        assert campaign.state == "draft" and reason in campaign.check_error
        page = admin_client.get(response.url).content.decode()
        assert 'id="campaign-refused"' in page and escape(reason) in page
    assert not CampaignRecipient.objects.exists()
    assert not CampaignFileChunk.objects.exists()


def test_a_good_file_passes_both_ways(settings, admin_client):
    """The same files, whole: the hostile cases above fail for what was done to them."""
    for name, content in [("a.csv", csv_bytes(good_lines())), ("a.xlsx", good_xlsx())]:
        assert post(admin_client, name, content).status_code == 302
    settings.XUNCHEN = {**settings.XUNCHEN, "CAMPAIGN_BACKGROUND_FROM_ROWS": 1}
    for name, content in [("a.csv", csv_bytes(good_lines())), ("a.xlsx", good_xlsx())]:
        assert post(admin_client, name, content).status_code == 302
    assert checking.check_waiting() == 2
    assert sorted(Campaign.objects.values_list("valid", flat=True)) == [30, 30, 30, 30]
