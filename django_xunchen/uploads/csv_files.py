"""CSV uploads: decoded once, line by line, before a row is read (UTF-8 with or without
a byte order mark, else GB18030, GBK's superset, as Excel saves it on a Chinese
Windows); a line of too many commas is refused before :mod:`csv` splits it."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from typing import IO

from django.utils.translation import gettext as _

from .cells import MAX_COLUMNS, UploadError, check_width, checked, too_long, too_many

_CHUNK = 1 << 20


def csv_encoding(file: IO[bytes], head: bytes, max_rows: int) -> tuple[str, int]:
    """``utf-8-sig`` with a byte order mark, else ``utf-8`` if every line decodes as
    UTF-8, else ``gb18030``, and the file's rows; a line with a NUL byte, or that decodes
    in neither, is named, and a file of more than ``max_rows`` rows besides a header is
    refused."""
    encodings = ["utf-8-sig"] if head.startswith(b"\xef\xbb\xbf") else ["utf-8", "gb18030"]
    bad = lines = 0
    for encoding in encodings:
        bad, lines = _decode_lines(file, encoding)
        if not bad:
            break
    else:
        raise UploadError(
            _("Line %(line)d is neither UTF-8 nor GBK text: save the file as CSV (UTF-8).")
            % {"line": bad},
            bad,
        )
    if lines > max_rows + 1:  # a quoted cell may hold line breaks: count the records
        lines = sum(1 for _row in csv_rows(file, encoding, max_rows))  # raises past the cap
        file.seek(0)
    return encoding, lines


def _decode_lines(file: IO[bytes], encoding: str) -> tuple[int, int]:
    """The number of the first line that does not decode (0: none), and the lines; read
    a chunk at a time, so that a file of one endless line costs no more than another."""
    file.seek(0)
    decoder = codecs.getincrementaldecoder(encoding)()
    breaks = carried = 0  # line breaks so far; commas on the line the last chunk ended in
    last = b""
    try:
        while chunk := file.read(_CHUNK):
            nul = chunk.find(b"\x00")
            if nul >= 0:
                line = breaks + chunk.count(b"\n", 0, nul) + 1
                raise UploadError(
                    _("Line %(line)d has a NUL byte: this is not a text (CSV) file.")
                    % {"line": line},
                    line,
                )
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return breaks + chunk.count(b"\n", 0, max(exc.start, 0)) + 1, 0
            carried = _wide_lines(chunk, breaks, carried)
            breaks += chunk.count(b"\n")
            last = chunk[-1:]
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return breaks + 1, 0
    finally:
        file.seek(0)
    return 0, breaks + (1 if last not in (b"", b"\n") else 0)


def _wide_lines(chunk: bytes, breaks: int, carried: int) -> int:
    """Refuse a line of more than :data:`MAX_COLUMNS` commas before :mod:`csv` makes a
    list of its cells (a line of 50 million commas would take gigabytes). Looks line by
    line only when the chunk's commas outnumber what its lines may hold, or a line goes
    on from the chunk before; returns the commas of the line the chunk ends in."""
    commas = chunk.count(b",")
    newlines = chunk.count(b"\n")
    first = chunk.find(b"\n")
    spanning = carried + chunk.count(b",", 0, first if first >= 0 else len(chunk))
    if commas > MAX_COLUMNS * (newlines + 1) or spanning > MAX_COLUMNS:
        for index, line in enumerate(chunk.split(b"\n")):
            if line.count(b",") + (carried if index == 0 else 0) >= MAX_COLUMNS:
                check_width(MAX_COLUMNS + 1, breaks + index + 1)
    if first < 0:
        return carried + commas
    return chunk.count(b",", chunk.rfind(b"\n") + 1)


def csv_rows(file: IO[bytes], encoding: str, max_rows: int) -> Iterator[list[str]]:
    file.seek(0)
    text = io.TextIOWrapper(file, encoding=encoding, newline="")  # type: ignore[arg-type]
    number = 0
    try:
        for row in csv.reader(text):
            number += 1
            if number > max_rows + 1:
                raise too_many(max_rows, number)
            check_width(len(row), number)
            yield checked([cell.strip() for cell in row], number)
    except csv.Error as exc:
        if "field limit" in str(exc):
            raise too_long(number + 1) from None
        raise UploadError(
            _("Row %(row)d is not valid CSV: %(error)s") % {"row": number + 1, "error": exc},
            number + 1,
        ) from None
    except UnicodeDecodeError:  # the file changed since it was checked
        raise UploadError(
            _("Line %(line)d is neither UTF-8 nor GBK text: save the file as CSV (UTF-8).")
            % {"line": number + 1},
            number + 1,
        ) from None
    finally:
        text.detach()
