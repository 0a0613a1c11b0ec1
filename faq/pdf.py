"""The FAQ資料 as an A4 PDF: title block, contents with page numbers, numbered questions by category.

The font is IPAex Gothic (IPA Font License v1.0, shipped in faq/fonts), embedded as a subset, so the
file looks the same in every viewer and printer. Headers carry the title and version, footers "n / N";
every question carries its permalink so an office can cite it.
"""

from __future__ import annotations

import dataclasses
import io
from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.doctemplate import LayoutError

from faq import pdf_blocks, render
from faq.pdf_blocks import FONT, LINK, MUTED, RULE, attr, plain, printable, style

MARGIN_X = 18 * mm
MARGIN_TOP = 20 * mm
MARGIN_BOTTOM = 18 * mm
TOC_QUESTION_CHARS = 48
PAGE_COL = 12 * mm


@dataclasses.dataclass(frozen=True)
class PdfEntry:
    id: int
    category: str
    question: str
    answer: str  # Markdown


@dataclasses.dataclass(frozen=True)
class PdfDocument:
    title: str
    series: str
    session: str  # e.g. "第12回 接種券の発送"
    held_on: str
    version: int
    published_on: str
    note: str
    intro: str  # Markdown
    permalink: str
    entry_url: str  # with "{id}"
    groups: list[tuple[str, list[PdfEntry]]]


class _Heading(Paragraph):  # type: ignore[misc]
    """A paragraph that files itself in the contents and the PDF outline."""

    def __init__(self, text: str, st: Any, level: int, toc_text: str, key: str) -> None:
        super().__init__(text, st)
        self.toc = (level, toc_text, key)


class _Doc(BaseDocTemplate):  # type: ignore[misc]
    def afterFlowable(self, flowable: Flowable) -> None:
        toc = getattr(flowable, "toc", None)
        if toc is None:
            return
        level, text, key = toc
        self.canv.bookmarkPage(key)
        self.canv.addOutlineEntry(plain(text), key, level=level, closed=level > 0)
        self.canv.toc_pages[key] = self.page


def _canvas_class(header: str, right: str) -> type[Canvas]:
    class NumberedCanvas(Canvas):  # type: ignore[misc]
        """Keeps each page until the end so the footer can say "n / N"."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []
            self.toc_pages: dict[str, int] = {}

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self._decorate(total)
                super().showPage()
            for key, page in self.toc_pages.items():  # the contents' page numbers, now known
                self.beginForm(f"page-{key}")
                self.setFont(FONT, 9)
                self.setFillColor(MUTED)
                self.drawRightString(PAGE_COL - 1, 2.5, str(page))
                self.endForm()
            super().save()

        def _decorate(self, total: int) -> None:
            width, height = A4
            self.saveState()
            self.setFont(FONT, 8)
            self.setFillColor(MUTED)
            self.drawString(MARGIN_X, height - 12 * mm, header)
            self.drawRightString(width - MARGIN_X, height - 12 * mm, right)
            self.setStrokeColor(RULE)
            self.setLineWidth(0.5)
            self.line(MARGIN_X, height - 13.5 * mm, width - MARGIN_X, height - 13.5 * mm)
            self.drawCentredString(width / 2, 10 * mm, f"{self._pageNumber} / {total}")
            self.restoreState()

    return NumberedCanvas


def _fit(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _title_block(doc: PdfDocument, width: float) -> list[Flowable]:
    label = style("meta-label", 9, textColor=MUTED)
    value = style("meta-value", 9)
    rows = [
        ("勉強会", doc.series),
        ("回", doc.session),
        ("開催日", doc.held_on),
        ("版", f"v{doc.version}（{doc.published_on} 公開）"),
        ("変更内容", doc.note),
        ("引用URL", f'<a href="{attr(doc.permalink)}" color="#{LINK.hexval()[2:]}">{printable(doc.permalink)}</a>'),
    ]
    data = [[Paragraph(k, label), Paragraph(v if k == "引用URL" else printable(v), value)] for k, v in rows if v]
    meta = Table(data, colWidths=[24 * mm, width - 24 * mm], hAlign="LEFT")
    meta.setStyle(
        [
            ("FONTNAME", (0, 0), (-1, -1), FONT),
            ("LINEBELOW", (0, 0), (-1, -1), 0.4, RULE),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )
    out: list[Flowable] = [
        Paragraph(printable(doc.series), style("series", 10, textColor=MUTED)),
        Paragraph(printable(doc.title), style("title", 18, 26, spaceAfter=4 * mm)),
        meta,
        Spacer(1, 4 * mm),
    ]
    if doc.intro:
        out += pdf_blocks.flowables(render.blocks(doc.intro), width)
    return out


class _Permalink(Flowable):  # type: ignore[misc]
    """「引用: URL」 under a question: one line, clickable (a plain string is much faster than a paragraph)."""

    def __init__(self, url: str, st: Any) -> None:
        super().__init__()
        self.url, self.st = url, st

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return available_width, self.st.leading + 2

    def draw(self) -> None:
        text = plain(f"引用: {self.url}")
        x, size = self.st.leftIndent, self.st.fontSize
        self.canv.setFont(FONT, size)
        self.canv.setFillColor(MUTED)
        self.canv.drawString(x, 3, text)
        end = x + self.canv.stringWidth(text, FONT, size)
        self.canv.linkURL(self.url, (x, 1, end, 3 + size), relative=1)


class _PageRef(Flowable):  # type: ignore[misc]
    """A contents page number, drawn as a form filled in after layout: the PDF needs one pass, not three."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return PAGE_COL, 10

    def draw(self) -> None:
        self.canv.doForm(f"page-{self.key}")


def _contents(doc: PdfDocument, width: float) -> list[Flowable]:
    levels = [style("toc0", 10.5, 15, spaceBefore=2), style("toc1", 9, 12.5, leftIndent=6 * mm, textColor=MUTED)]
    rows = []
    n = 0
    for c, (category, items) in enumerate(doc.groups, 1):
        rows.append([Paragraph(f'<a href="#c{c}">{printable(f"{c}. {category}")}</a>', levels[0]), _PageRef(f"c{c}")])
        for _ in items:
            n += 1
            text = printable(_fit(f"Q{n}. {_.question}", TOC_QUESTION_CHARS))
            rows.append([Paragraph(f'<a href="#q{n}">{text}</a>', levels[1]), _PageRef(f"q{n}")])
    out: list[Flowable] = [Paragraph("目次", style("toc-title", 14, 20, spaceBefore=6 * mm, spaceAfter=3 * mm))]
    if rows:
        table = Table(rows, colWidths=[width - PAGE_COL, PAGE_COL], repeatRows=0, hAlign="LEFT")
        table.setStyle(
            TableStyle(
                [("FONTNAME", (0, 0), (-1, -1), FONT), ("VALIGN", (0, 0), (-1, -1), "BOTTOM")]
                + [("LINEBELOW", (0, 0), (-1, -1), 0.25, RULE, None, (1, 2))]
                + [(pad, (0, 0), (-1, -1), 1) for pad in ("LEFTPADDING", "RIGHTPADDING", "TOPPADDING", "BOTTOMPADDING")]
            )
        )
        out.append(table)
    out.append(PageBreak())
    return out


def _entries(doc: PdfDocument, width: float, *, flat: bool) -> list[Flowable]:
    category_style = style("category", 14, 20, spaceBefore=5 * mm, spaceAfter=2 * mm, keepWithNext=1)
    question_style = style(
        "question", 11, 16.5, spaceBefore=4 * mm, spaceAfter=1.5 * mm, textColor=LINK, keepWithNext=1
    )
    link_style = style("permalink", 7.5, 11, textColor=MUTED, leftIndent=5 * mm)
    out: list[Flowable] = []
    n = 0
    for c, (category, items) in enumerate(doc.groups, 1):
        title = f"{c}. {category}"
        out.append(_Heading(printable(title), category_style, 0, title, f"c{c}"))
        for e in items:
            n += 1
            question = f"Q{n}. {e.question}"
            markup = printable(question).replace("\n", "<br/>")
            out.append(_Heading(markup, question_style, 1, _fit(question, TOC_QUESTION_CHARS), f"q{n}"))
            out += pdf_blocks.flowables(render.blocks(e.answer), width, 5 * mm, flat=flat)
            out.append(_Permalink(doc.entry_url.format(id=e.id), link_style))
    return out


def render_pdf(doc: PdfDocument) -> bytes:
    """The PDF bytes; if a table cell is taller than a page, tables are printed row by row instead."""
    try:
        return _build(doc, flat=False)
    except LayoutError:
        return _build(doc, flat=True)


def _build(doc: PdfDocument, *, flat: bool) -> bytes:
    pdf_blocks.register_font()
    out = io.BytesIO()
    template = _Doc(
        out,
        pagesize=A4,
        title=doc.title,
        author="Chonai",
        subject=f"{doc.series} {doc.session}",
        creator="Chonai",
        leftMargin=MARGIN_X,
        rightMargin=MARGIN_X,
        topMargin=MARGIN_TOP,
        bottomMargin=MARGIN_BOTTOM,
        initialFontName=FONT,
        lang="ja-JP",
    )
    frame = Frame(template.leftMargin, template.bottomMargin, template.width, template.height, id="body")
    template.addPageTemplates([PageTemplate(id="page", frames=[frame])])
    width = template.width
    story = _title_block(doc, width) + _contents(doc, width) + _entries(doc, width, flat=flat)
    header = plain(_fit(doc.title, 60))
    template.build(story, canvasmaker=_canvas_class(header, f"v{doc.version}・{doc.published_on} 公開"))
    return out.getvalue()
