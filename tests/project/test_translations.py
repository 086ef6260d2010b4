"""zh_Hans ships complete: every translatable string is in the catalogue, translated, and
the compiled catalogue matches it."""

import gettext
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import skip_unless_required

PACKAGE = Path(__file__).resolve().parents[2] / "django_xunchen"
LOCALE = PACKAGE / "locale" / "zh_Hans" / "LC_MESSAGES"


def entries(po: Path) -> dict[tuple[str, str], str]:
    """(msgctxt, msgid) -> msgstr (the first plural form); a fuzzy entry (a guess by
    makemessages from a similar string) maps to "", as untranslated."""
    return {key: msgstr for key, (msgstr, _plural) in parse(po).items()}


def parse(po: Path) -> dict[tuple[str, str], tuple[str, bool]]:
    """(msgctxt, msgid) -> (msgstr, whether the entry has plural forms)."""
    result = {}
    for block in po.read_text(encoding="utf-8").split("\n\n"):
        fuzzy = "#, fuzzy" in block or "fuzzy," in block
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            match = re.match(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[0\])?) "(.*)"$', line)
            if match:
                key = match.group(1).replace("[0]", "")
                fields[key] = match.group(2)
            elif line.startswith('"') and key:
                fields[key] += line[1:-1]
        if fields.get("msgid"):
            msgstr = "" if fuzzy else fields.get("msgstr", "")
            key = (fields.get("msgctxt", ""), fields["msgid"])
            result[key] = (msgstr, "msgid_plural" in fields)
    return result


def test_every_entry_is_translated():
    untranslated = [k for k, v in entries(LOCALE / "django.po").items() if not v]
    assert untranslated == []


def test_compiled_catalogue_matches():
    catalogue = gettext.GNUTranslations((LOCALE / "django.mo").open("rb"))
    for (context, msgid), (msgstr, plural) in parse(LOCALE / "django.po").items():
        if not msgstr:
            continue
        text = msgid.replace('\\"', '"').replace("\\n", "\n")
        if plural:  # stored under (msgid, form): gettext() does not see it on Python 3.10
            got = catalogue.ngettext(text, text, 1)
        elif context:
            got = catalogue.pgettext(context, text)
        else:
            got = catalogue.gettext(text)
        assert got == msgstr.replace('\\"', '"').replace("\\n", "\n"), msgid


# mutmut's copies of the modules carry mutated strings, which makemessages reads as new.
@pytest.mark.main_step_only
def test_no_translatable_string_is_missing_from_the_catalogue(tmp_path):
    if shutil.which("xgettext") is None:
        skip_unless_required("needs gettext (apt-get install gettext)", "XUNCHEN_REQUIRE_GETTEXT")
    copy = tmp_path / "django_xunchen"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "django",
            "makemessages",
            "-l",
            "zh_Hans",
            "--no-obsolete",
            "--no-location",
        ],
        cwd=copy,
        check=True,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": ""},
    )
    fresh = entries(copy / "locale/zh_Hans/LC_MESSAGES/django.po")
    new = sorted(msgid for key, msgstr in fresh.items() if not msgstr for msgid in [key[1]])
    assert new == [], "run `make messages` and translate the new strings"


ROOT = PACKAGE.parent
PAIRS = [
    (ROOT / "README.md", ROOT / "README.zh-Hans.md"),
    (ROOT / "docs" / "quickstart.rst", ROOT / "docs" / "quickstart.zh_Hans.rst"),
    (ROOT / "docs" / "compliance.rst", ROOT / "docs" / "compliance.zh_Hans.rst"),
    (ROOT / "docs" / "people.rst", ROOT / "docs" / "people.zh_Hans.rst"),
]


def _shape(path: Path) -> tuple[list[str], int, int]:
    """What must match between a page and its translation: its code blocks (commands
    and code are the same in both languages), its sections and its list items."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".md":
        code = re.findall(r"```[a-z]*\n.*?```", text, re.S)
        sections = len(re.findall(r"^## ", text, re.M))
    else:
        blocks = re.findall(r"^( *)\.\. code-block:: \w+\n\n((?:\1   .*\n|\n)+)", text, re.M)
        code = [body.strip() for _indent, body in blocks]
        sections = len(re.findall(r"^[=\-~]{3,}$", text, re.M))
    items = len(re.findall(r"^(?:- |\d+\. )", text, re.M))
    return code, sections, items


def test_the_chinese_readme_and_quickstart_keep_in_step_with_the_english():
    for english, chinese in PAIRS:
        en_code, en_sections, en_items = _shape(english)
        zh_code, zh_sections, zh_items = _shape(chinese)
        assert en_code and zh_code == en_code, f"{chinese.name}: the same code as {english.name}"
        assert (zh_sections, zh_items) == (en_sections, en_items), (
            f"{chinese.name} has {zh_sections} sections and {zh_items} list items; "
            f"{english.name} has {en_sections} and {en_items}"
        )
        link = re.compile(r"\.(rst|md)$")
        assert link.sub("", english.name) in chinese.read_text(encoding="utf-8"), "linked"
        assert link.sub("", chinese.name) in english.read_text(encoding="utf-8"), "linked"
