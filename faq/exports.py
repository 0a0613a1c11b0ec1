"""Downloads of one FAQ document version: PDF (Japanese CID font), Markdown, CSV (UTF-8 with BOM), Excel."""

from __future__ import annotations

import csv
import io
import re
from xml.sax.saxutils import escape as xml_escape

from core.cells import csv_row, xlsx_append
from faq.documents import grouped
from faq.models import FaqEntry, FaqVersion, StudySession

COLUMNS = ["番号", "カテゴリ", "質問", "回答", "票数", "URL"]
# HeiseiKakuGo-W5 is one of the Adobe CID fonts every PDF reader has: no font file to ship or install.
PDF_FONT = "HeiseiKakuGo-W5"


def _rows(entries: list[FaqEntry], base_url: str) -> list[list[str | int]]:
    return [
        [f"Q{n}", e.category, e.question, e.answer, e.votes, f"{base_url}/faq/entries/{e.id}"]
        for n, e in enumerate(entries, 1)
    ]


def _heading(version: FaqVersion, session: StudySession) -> str:
    from core.timefmt import format_jst

    return f"開催日: {format_jst(session.starts_at)}　版: v{version.number}（{format_jst(version.published_at)} 公開）"


def markdown(version: FaqVersion, session: StudySession, entries: list[FaqEntry], base_url: str) -> str:
    lines = [f"# {version.title}", "", _heading(version, session), ""]
    if version.intro:
        lines += [version.intro, ""]
    n = 0
    for category, items in grouped(entries):
        lines += [f"## {category}", ""]
        for e in items:
            n += 1
            lines += [
                f"### Q{n}. {e.question}",
                "",
                e.answer,
                "",
                f"[この項目へのリンク]({base_url}/faq/entries/{e.id})",
                "",
            ]
    return "\n".join(lines)


def csv_bytes(entries: list[FaqEntry], base_url: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in _rows(entries, base_url):
        writer.writerow(csv_row(row))
    return out.getvalue().encode("utf-8-sig")


def xlsx_bytes(version: FaqVersion, entries: list[FaqEntry], base_url: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "FAQ"
    ws.append(COLUMNS)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in _rows(entries, base_url):
        xlsx_append(ws, row)
    for letter, width in zip("ABCDEF", (6, 14, 50, 80, 6, 40), strict=True):
        ws.column_dimensions[letter].width = width
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "A2"
    wb.properties.title = version.title
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


_MD_MARKS = re.compile(r"(^|\n)\s{0,3}(#{1,6}|>|[-*+]|\d+\.)\s+")


def _pdf_text(markdown_text: str) -> str:
    """Markdown as simple paragraph markup: list and heading marks become bullets, breaks kept."""
    text = _MD_MARKS.sub(lambda m: m.group(1) + "・", markdown_text)
    text = re.sub(r"\*\*(.+?)\*\*", r"\1", text)
    text = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r"\1（\2）", text)
    return xml_escape(text).replace("\n", "<br/>")


def pdf_bytes(version: FaqVersion, session: StudySession, entries: list[FaqEntry], base_url: str) -> bytes:
    from reportlab.lib.colors import HexColor
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    if PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))
    base = {"fontName": PDF_FONT, "wordWrap": "CJK"}
    title = ParagraphStyle("title", fontSize=16, leading=22, spaceAfter=6, **base)
    meta = ParagraphStyle("meta", fontSize=9, leading=13, textColor=HexColor("#5b6776"), spaceAfter=8, **base)
    h2 = ParagraphStyle("h2", fontSize=13, leading=18, spaceBefore=10, spaceAfter=4, **base)
    q = ParagraphStyle("q", fontSize=11, leading=16, spaceBefore=6, textColor=HexColor("#0b5cad"), **base)
    a = ParagraphStyle("a", fontSize=10, leading=15, leftIndent=4 * mm, spaceAfter=4, **base)
    story = [Paragraph(xml_escape(version.title), title), Paragraph(xml_escape(_heading(version, session)), meta)]
    if version.intro:
        story.append(Paragraph(_pdf_text(version.intro), a))
    n = 0
    for category, items in grouped(entries):
        story.append(Paragraph(xml_escape(category), h2))
        for e in items:
            n += 1
            story.append(Paragraph(f"Q{n}. " + xml_escape(e.question).replace("\n", "<br/>"), q))
            story.append(Paragraph("A. " + _pdf_text(e.answer), a))
    story.append(Spacer(1, 6 * mm))
    story.append(Paragraph(xml_escape(f"{base_url}/faq/documents/{version.document_id}/v/{version.number}"), meta))
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out, pagesize=A4, title=version.title, author="Chonai", leftMargin=18 * mm, rightMargin=18 * mm
    )
    doc.build(story)
    return out.getvalue()
