"""CSV, XLSX and ODS files written batch by batch, as chunks of bytes to stream.

- CSV: UTF-8 with a byte order mark (so that Excel reads the accents), a header row, CRLF line ends. In
  French the separator is ``;`` and decimals use a comma, which is what Excel and LibreOffice in a French
  locale read as columns and numbers; in English, ``,`` and a point. Dates are ISO (2025-03-31), which both
  read as dates. Text starting with ``= + - @`` is prefixed with ``'`` so that no cell runs as a formula.
- XLSX: xlsxwriter in ``constant_memory`` mode (each row goes to disk as it is written) into a temporary
  file, which is then sent in chunks and removed.
- ODS: written by hand as a zip streamed while it is made (the zip module writes to a sink we empty after
  every batch): ``mimetype`` stored first, ``META-INF/manifest.xml``, and ``content.xml`` row by row.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import re
import tempfile
import zipfile
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import xlsxwriter

from instance.services.exports import Cell

CHUNK = 64 * 1024
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

Batches = AsyncIterator[list[tuple[Cell, ...]]]


# -- CSV ---------------------------------------------------------------------------------------------------


def _csv_text(value: Cell, decimal_comma: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        text = f"{value:.2f}"
        return text.replace(".", ",") if decimal_comma else text
    if isinstance(value, dt.date):
        return value.isoformat()
    return "'" + value if value.startswith(FORMULA_START) else value


async def csv_chunks(batches: Batches, header: tuple[str, ...], french: bool) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if french else ",", lineterminator="\r\n")
    writer.writerow(header)
    yield ("\ufeff" + buffer.getvalue()).encode()
    async for rows in batches:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows([_csv_text(v, french) for v in row] for row in rows)
        yield buffer.getvalue().encode()


# -- XLSX --------------------------------------------------------------------------------------------------


async def xlsx_chunks(batches: Batches, header: tuple[str, ...], sheet: str) -> AsyncIterator[bytes]:
    with tempfile.TemporaryDirectory(prefix="benevalibre-export-") as folder:
        path = Path(folder) / "export.xlsx"
        workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True, "tmpdir": folder})
        try:
            worksheet = workbook.add_worksheet(sheet[:31])
            bold = workbook.add_format({"bold": True})
            date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
            number_format = workbook.add_format({"num_format": "0.00"})
            worksheet.write_row(0, 0, header, bold)
            number = 1
            async for rows in batches:
                for row in rows:
                    for column, value in enumerate(row):
                        if isinstance(value, Decimal):
                            worksheet.write_number(number, column, float(value), number_format)
                        elif isinstance(value, dt.date):
                            worksheet.write_datetime(number, column, value, date_format)
                        elif value:
                            worksheet.write_string(number, column, value)
                    number += 1
        finally:
            await asyncio.to_thread(workbook.close)
        with path.open("rb") as handle:
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                yield chunk


# -- ODS ---------------------------------------------------------------------------------------------------

ODS_MIMETYPE = "application/vnd.oasis.opendocument.spreadsheet"
_MANIFEST = f"""<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">
 <manifest:file-entry manifest:full-path="/" manifest:version="1.2" manifest:media-type="{ODS_MIMETYPE}"/>
 <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
</manifest:manifest>
"""
_CONTENT_START = """<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" \
xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" \
xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" \
xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" \
xmlns:number="urn:oasis:names:tc:opendocument:xmlns:datastyle:1.0" office:version="1.2">
<office:automatic-styles>
<number:date-style style:name="N1"><number:year number:style="long"/><number:text>-</number:text>\
<number:month number:style="long"/><number:text>-</number:text><number:day number:style="long"/></number:date-style>
<style:style style:name="date" style:family="table-cell" style:data-style-name="N1"/>
</office:automatic-styles>
<office:body><office:spreadsheet><table:table table:name={name}>
"""
_CONTENT_END = "</table:table></office:spreadsheet></office:body></office:document-content>\n"


def _ods_cell(value: Cell) -> str:
    if value is None or value == "":
        return "<table:table-cell/>"
    if isinstance(value, Decimal):
        return (
            f'<table:table-cell office:value-type="float" office:value="{value}">'
            f"<text:p>{value}</text:p></table:table-cell>"
        )
    if isinstance(value, dt.date):
        day = value.isoformat()
        return (
            f'<table:table-cell table:style-name="date" office:value-type="date" office:date-value="{day}">'
            f"<text:p>{day}</text:p></table:table-cell>"
        )
    text = escape(_XML_INVALID.sub("", value))
    paragraphs = "".join(f"<text:p>{line}</text:p>" for line in text.split("\n"))
    return f'<table:table-cell office:value-type="string">{paragraphs}</table:table-cell>'


def _ods_row(row: tuple[Cell, ...]) -> str:
    return "<table:table-row>" + "".join(_ods_cell(v) for v in row) + "</table:table-row>\n"


class _Sink:
    """A write-only file whose content is taken out as it comes (the zip module sees it cannot seek)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


async def ods_chunks(batches: Batches, header: tuple[str, ...], sheet: str) -> AsyncIterator[bytes]:
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), ODS_MIMETYPE, compress_type=zipfile.ZIP_STORED)
        archive.writestr("META-INF/manifest.xml", _MANIFEST)
        with archive.open("content.xml", "w") as content:
            content.write(_CONTENT_START.format(name=quoteattr(_XML_INVALID.sub("", sheet))).encode())
            content.write(_ods_row(header).encode())
            async for rows in batches:
                content.write("".join(_ods_row(row) for row in rows).encode())
                if data := sink.take():
                    yield data
            content.write(_CONTENT_END.encode())
    yield sink.take()
