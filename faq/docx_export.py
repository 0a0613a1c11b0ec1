"""The FAQ資料 as a Word document (python-docx): A4, one Heading 1 per category, numbered questions
(Heading 2 "Q1. …"), answers as real Word paragraphs, lists and bordered tables, clickable links."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from docx import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

from faq import render
from faq.documents import grouped
from faq.render import Block, Span

if TYPE_CHECKING:
    from faq.exports import Export

FONT_LATIN = "Yu Gothic"
FONT_JA = "游ゴシック"
MONO = "Consolas"
MAX_TABLE_COLUMNS = 20


def _set_font(style: Any, size: float | None = None) -> None:
    style.font.name = FONT_LATIN
    if size:
        style.font.size = Pt(size)
    fonts = style.element.get_or_add_rPr().get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), FONT_JA)


def _setup(document: Any) -> None:
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    for side in ("left_margin", "right_margin"):
        setattr(section, side, Mm(20))
    section.top_margin = section.bottom_margin = Mm(20)
    _set_font(document.styles["Normal"], 10.5)
    for name in ("Title", "Heading 1", "Heading 2", "Heading 3", "Heading 4"):
        _set_font(document.styles[name])
    code = document.styles.add_style("FAQ Code", WD_STYLE_TYPE.PARAGRAPH)
    code.base_style = document.styles["Normal"]
    code.font.name = MONO
    code.font.size = Pt(9)


def _hyperlink(paragraph: Any, url: str, text: str) -> None:
    part = paragraph.part
    rel = part.relate_to(url, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), rel)
    run = OxmlElement("w:r")
    props = OxmlElement("w:rPr")
    style = OxmlElement("w:rStyle")
    style.set(qn("w:val"), "Hyperlink")
    color = OxmlElement("w:color")
    color.set(qn("w:val"), "0B5CAD")
    underline = OxmlElement("w:u")
    underline.set(qn("w:val"), "single")
    props.extend([style, color, underline])
    run.append(props)
    t = OxmlElement("w:t")
    t.text = text
    t.set(qn("xml:space"), "preserve")
    run.append(t)
    link.append(run)
    paragraph._p.append(link)


def _spans(paragraph: Any, spans: list[Span]) -> None:
    i = 0
    while i < len(spans):
        span = spans[i]
        if span.br:
            paragraph.add_run().add_break()
        elif span.href and not span.image:
            j = i
            while j + 1 < len(spans) and spans[j + 1].href == span.href and not spans[j + 1].image:
                j += 1
            text = "".join(s.text for s in spans[i : j + 1])
            _hyperlink(paragraph, span.href, text)
            if span.href not in (text, f"mailto:{text}"):
                paragraph.add_run(f"（{span.href}）").font.size = Pt(8)
            i = j
        elif span.image:
            label = f"［{render.IMAGE_LABEL}: {span.text}］"
            if span.href:
                _hyperlink(paragraph, span.href, label)
                paragraph.add_run(f"（{span.href}）").font.size = Pt(8)
            else:
                paragraph.add_run(label)
        else:
            run = paragraph.add_run(span.text)
            run.bold = span.bold or None
            run.italic = span.italic or None
            run.font.strike = span.strike or None
            if span.code:
                run.font.name = MONO
        i += 1


def _table(document: Any, block: render.Table) -> None:
    head = block.head[:MAX_TABLE_COLUMNS]
    table = document.add_table(rows=1 + len(block.rows), cols=max(1, len(head)))
    table.style = "Table Grid"
    for cells, row in zip(table.rows, [head, *block.rows], strict=True):
        for n, cell in enumerate(cells.cells):
            content = row[n] if n < len(row) else []
            _spans(cell.paragraphs[0], content)
            if row is head:
                for run in cell.paragraphs[0].runs:
                    run.bold = True
    document.add_paragraph()


def _blocks(document: Any, items: list[Block], level: int = 0) -> None:
    for block in items:
        if isinstance(block, render.Heading):
            p = document.add_paragraph()
            _spans(p, block.spans)
            for run in p.runs:
                run.bold = True
        elif isinstance(block, render.Para):
            _spans(document.add_paragraph(), block.spans)
        elif isinstance(block, render.ListBlock):
            style = "List Number" if block.ordered else "List Bullet"
            if level:
                style += f" {min(level + 1, 3)}"
            for item in block.items:
                first, rest = (item[0], item[1:]) if item and isinstance(item[0], render.Para) else (None, item)
                p = document.add_paragraph(style=style)
                if first is not None:
                    _spans(p, first.spans)
                _blocks(document, rest, level + 1)
        elif isinstance(block, render.Table):
            _table(document, block)
        elif isinstance(block, render.Code):
            document.add_paragraph(block.text, style="FAQ Code")
        elif isinstance(block, render.Quote):
            start = len(document.paragraphs)
            _blocks(document, block.blocks, level)
            for p in document.paragraphs[start:]:
                p.paragraph_format.left_indent = Mm(8)
        elif isinstance(block, render.Rule):
            document.add_paragraph("―" * 20).alignment = WD_ALIGN_PARAGRAPH.CENTER


def docx_bytes(export: Export) -> bytes:
    version = export.version
    document = Document()
    _setup(document)
    document.core_properties.title = version.title
    document.core_properties.author = "Chonai"
    document.add_paragraph(export.series).runs[0].font.color.rgb = RGBColor(0x5B, 0x67, 0x76)
    document.add_heading(version.title, level=0)
    meta = document.add_table(rows=0, cols=2)
    meta.style = "Table Grid"
    for label, value in (
        ("回", export.session_label),
        ("開催日", export.held_on),
        ("版", f"v{version.number}（{export.published_on} 公開）"),
        ("変更内容", version.note),
        ("引用URL", export.permalink),
    ):
        cells = meta.add_row().cells
        cells[0].text, cells[1].text = label, value
    if version.intro:
        _blocks(document, render.blocks(version.intro))
    n = 0
    for category, items in grouped(export.entries):
        document.add_heading(category, level=1)
        for e in items:
            n += 1
            document.add_heading(f"Q{n}. {e.question}", level=2)
            _blocks(document, render.blocks(e.answer))
            link = document.add_paragraph("引用: ")
            _hyperlink(link, export.entry_url(e.id), export.entry_url(e.id))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
