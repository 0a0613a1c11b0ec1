"""Downloads of one FAQ document version: PDF, Word (.docx), Markdown, CSV (UTF-8 with BOM) and Excel.

Answers are Markdown; every format goes through faq.render (PDF and Word from its block tree,
spreadsheets as its plain text), and every spreadsheet cell through core.cells.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import threading
from typing import TYPE_CHECKING

from core.cells import csv_row, xlsx_append
from core.timefmt import format_jst
from faq import render
from faq.documents import grouped
from faq.models import FaqEntry, FaqVersion, StudySession

if TYPE_CHECKING:  # reportlab is imported on the first PDF, not when the app starts
    from faq import pdf

COLUMNS = ["番号", "カテゴリ", "質問", "回答", "質問した自治体等", "票数", "版", "URL"]
WIDTHS = (7, 16, 44, 80, 22, 7, 6, 38)
FORMATS = ("pdf", "docx", "md", "csv", "xlsx")
MEDIA_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "md": "text/markdown; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclasses.dataclass(frozen=True)
class Export:
    """Everything an export needs about one published version."""

    version: FaqVersion
    session: StudySession
    entries: list[FaqEntry]
    base_url: str

    @property
    def permalink(self) -> str:
        return f"{self.base_url}/faq/documents/{self.version.document_id}/v/{self.version.number}"

    def entry_url(self, entry_id: int) -> str:
        return f"{self.base_url}/faq/entries/{entry_id}"

    @property
    def held_on(self) -> str:
        return format_jst(self.session.starts_at)

    @property
    def published_on(self) -> str:
        return format_jst(self.version.published_at)

    @property
    def series(self) -> str:
        return self.session.series.title

    @property
    def session_label(self) -> str:
        return f"第{self.session.number}回 {self.session.title}"


# reportlab keeps module-level state (font registry, caches): one PDF at a time per process.
_PDF_LOCK = threading.Lock()


def render_export(fmt: str, export: Export) -> bytes:
    """The file in one format; safe to call from a worker thread (the ORM objects are fully loaded)."""
    if fmt == "pdf":
        with _PDF_LOCK:
            return pdf_bytes(export)
    if fmt == "docx":
        from faq.docx_export import docx_bytes

        return docx_bytes(export)
    if fmt == "md":
        return markdown(export).encode()
    if fmt == "csv":
        return csv_bytes(export)
    if fmt == "xlsx":
        return xlsx_bytes(export)
    raise ValueError(fmt)


def markdown(export: Export) -> str:
    version = export.version
    lines = [f"# {version.title}", "", f"{export.series} {export.session_label}", ""]
    lines += [f"開催日: {export.held_on}　版: v{version.number}（{export.published_on} 公開）", ""]
    lines += [f"引用URL: {export.permalink}", ""]
    if version.intro:
        lines += [version.intro, ""]
    n = 0
    for category, items in grouped(export.entries):
        lines += [f"## {category}", ""]
        for e in items:
            n += 1
            lines += [
                f"### Q{n}. {e.question}",
                "",
                e.answer,
                "",
                f"[この項目へのリンク]({export.entry_url(e.id)})",
                "",
            ]
    return "\n".join(lines)


def _rows(export: Export) -> list[list[str | int]]:
    return [
        [
            f"Q{n}",
            e.category,
            e.question,
            render.markdown_text(e.answer),
            e.asker,
            e.votes,
            f"v{export.version.number}",
            export.entry_url(e.id),
        ]
        for n, e in enumerate(export.entries, 1)
    ]


def csv_bytes(export: Export) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in _rows(export):
        writer.writerow(csv_row(row))
    return out.getvalue().encode("utf-8-sig")


def xlsx_bytes(export: Export) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "FAQ"
    xlsx_append(ws, list(COLUMNS))
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="E3E9F0")
        cell.alignment = Alignment(vertical="center")
    for row in _rows(export):
        xlsx_append(ws, row)
    for n, width in enumerate(WIDTHS, 1):
        ws.column_dimensions[get_column_letter(n)].width = width
    wrap = Alignment(wrap_text=True, vertical="top")
    for cells in ws.iter_rows(min_row=2):
        for cell in cells:
            cell.alignment = wrap
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{ws.max_row}"
    ws.print_title_rows = "1:1"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    wb.properties.title = export.version.title
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def pdf_document(export: Export) -> pdf.PdfDocument:
    from faq import pdf

    version = export.version
    groups = [
        (category, [pdf.PdfEntry(e.id, e.category, e.question, e.answer) for e in items])
        for category, items in grouped(export.entries)
    ]
    return pdf.PdfDocument(
        title=version.title,
        series=export.series,
        session=export.session_label,
        held_on=export.held_on,
        version=version.number,
        published_on=export.published_on,
        note=version.note,
        intro=version.intro,
        permalink=export.permalink,
        entry_url=f"{export.base_url}/faq/entries/{{id}}",
        groups=groups,
    )


def pdf_bytes(export: Export) -> bytes:
    from faq import pdf

    return pdf.render_pdf(pdf_document(export))
