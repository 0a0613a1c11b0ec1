"""Markdown blocks (faq.render) as reportlab flowables in the embedded Japanese font.

Everything is a Paragraph or a Table of Paragraphs, so long answers split across pages and every
line wraps with Japanese line-breaking rules (wordWrap="CJK"). Links show their URL; images are
links; code keeps its line breaks and indentation.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib.colors import Color, HexColor
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Indenter, Paragraph, Spacer, Table, TableStyle

from faq import render
from faq.render import Block, Span

FONT = "IPAexGothic"
FONT_FILE = Path(__file__).parent / "fonts" / "ipaexg.ttf"
INK = HexColor("#1d2733")
MUTED = HexColor("#5b6776")
LINK = HexColor("#0b5cad")
STRONG = HexColor("#7a1a12")
RULE = HexColor("#9aa5b1")
CODE_BG = HexColor("#eef1f4")
HEAD_BG = HexColor("#e3e9f0")
MAX_TABLE_COLUMNS = 12


@functools.cache
def register_font() -> str:
    """Register IPAex Gothic once; reportlab embeds only the glyphs a document uses (subset)."""
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    pdfmetrics.registerFont(TTFont(FONT, str(FONT_FILE)))
    # One weight only: <b>/<i> resolve to the same face (emphasis is shown by colour and underline).
    for bold in (0, 1):
        for italic in (0, 1):
            addMapping(FONT, bold, italic, FONT)
    return FONT


def style(name: str, size: float = 10, leading: float | None = None, **kw: object) -> ParagraphStyle:
    base: dict[str, object] = {
        "fontName": FONT,
        "fontSize": size,
        "leading": leading or size * 1.55,
        "wordWrap": "CJK",
        "alignment": TA_LEFT,
        "textColor": INK,
    }
    base.update(kw)
    return ParagraphStyle(name, **base)


@dataclasses.dataclass(frozen=True)
class Styles:
    body: ParagraphStyle
    small: ParagraphStyle
    code: ParagraphStyle
    cell: ParagraphStyle
    head_cell: ParagraphStyle
    headings: tuple[ParagraphStyle, ...]

    @classmethod
    @functools.lru_cache(maxsize=32)  # styles are never mutated; one set per nesting depth, not per block
    def make(cls, indent: float = 0) -> Styles:
        return cls(
            body=style("md-body", 10, leftIndent=indent, spaceAfter=3),
            small=style("md-small", 8, leftIndent=indent, textColor=MUTED, spaceAfter=2),
            code=style(
                "md-code", 8.5, leftIndent=indent + 2 * mm, backColor=CODE_BG, borderPadding=(2, 3, 2, 3), spaceAfter=5
            ),
            cell=style("md-cell", 8.5, 8.5 * 1.4),
            head_cell=style("md-head", 8.5, 8.5 * 1.4),
            headings=tuple(
                style(f"md-h{n}", size, leftIndent=indent, spaceBefore=4, spaceAfter=2, keepWithNext=1)
                for n, size in enumerate((12, 11.5, 11, 10.5, 10, 10), 1)
            ),
        )


def _hex(color: Color) -> str:
    return "#" + str(color.hexval())[2:]


@functools.cache
def _glyphs() -> frozenset[int]:
    from reportlab.pdfbase import pdfmetrics

    face = pdfmetrics.getFont(register_font()).face
    return frozenset(face.charToGlyph)


def plain(text: str) -> str:
    """The text with each character the font lacks (an emoji, a rare variant) as 〓, as printers do."""
    glyphs = _glyphs()
    return "".join(ch if ord(ch) in glyphs or ch in "\n\t" else "〓" for ch in text)


def printable(text: str) -> str:
    """Paragraph markup for plain text."""
    return escape(plain(text))


def attr(value: str) -> str:
    return escape(value, {'"': "&quot;"})


def _url(url: str) -> str:
    return printable(url)  # the CJK line breaker wraps a long URL anywhere, without adding characters


def span_markup(span: Span) -> str:
    if span.br:
        return "<br/>"
    text = printable(span.text)
    if span.code:
        text = f'<font backColor="{_hex(CODE_BG)}">{text}</font>'
    if span.bold:
        text = f'<u><font color="{_hex(STRONG)}">{text}</font></u>'
    if span.italic:
        text = f'<font color="{_hex(MUTED)}">{text}</font>'
    if span.strike:
        text = f"<strike>{text}</strike>"
    if span.image:
        label = f"［{render.IMAGE_LABEL}: {text}］"
        if not span.href:
            return label
        href = attr(span.href)
        return f'<a href="{href}" color="{_hex(LINK)}">{label}</a><font size="7" color="{_hex(MUTED)}">（{_url(span.href)}）</font>'
    if span.href:
        href = attr(span.href)
        text = f'<a href="{href}" color="{_hex(LINK)}">{text}</a>'
    return text


def markup(spans: list[Span]) -> str:
    """Paragraph markup; a link's URL is printed once after its text (unless the text is the URL)."""
    out: list[str] = []
    for i, span in enumerate(spans):
        out.append(span_markup(span))
        if span.href and not span.image:
            next_href = spans[i + 1].href if i + 1 < len(spans) and not spans[i + 1].image else ""
            link_text = "".join(s.text for s in spans if s.href == span.href)
            if next_href != span.href and span.href not in (link_text, f"mailto:{link_text}"):
                out.append(f'<font size="7" color="{_hex(MUTED)}">（{_url(span.href)}）</font>')
    return "".join(out)


def _code(text: str, st: ParagraphStyle) -> Paragraph:
    lines = []
    for line in text.split("\n"):
        stripped = line.lstrip(" ")
        lines.append("&nbsp;" * (len(line) - len(stripped)) + printable(stripped.replace("\t", "    ")))
    return Paragraph("<br/>".join(lines) or "&nbsp;", st)


def _col_widths(columns: list[list[list[Span]]], width: float) -> list[float]:
    """Columns share the width by how much text they hold, each at least 14 mm when it fits."""
    weights = [min(40, max(4, *(len(render.spans_text(c)) for c in col))) for col in columns]
    total = sum(weights)
    widths = [width * w / total for w in weights]
    floor = min(14 * mm, width / len(widths))
    short = sum(floor - w for w in widths if w < floor)
    rest = sum(w for w in widths if w >= floor)
    return [floor if w < floor else w - short * w / rest for w in widths]


def _cell(spans: list[Span], st: ParagraphStyle, width: float) -> Paragraph | str:
    """A plain cell that fits on one line is drawn as a string (fast: big tables); others wrap as paragraphs."""
    if all(not (s.href or s.bold or s.italic or s.code or s.strike or s.br or s.image) for s in spans):
        from reportlab.pdfbase.pdfmetrics import stringWidth

        text = plain("".join(s.text for s in spans))
        if "\n" not in text and stringWidth(text, FONT, st.fontSize) <= width - 7:
            return text
    return Paragraph(markup(spans), st)


def table(block: render.Table, width: float, st: Styles, *, flat: bool = False) -> list[Flowable]:
    head = block.head[:MAX_TABLE_COLUMNS]
    rows = [row[:MAX_TABLE_COLUMNS] + [[]] * (len(head) - len(row)) for row in block.rows]
    if flat or not head:
        # Fallback for cells taller than a page: one paragraph per row, cells separated by " | ".
        lines = [" | ".join(markup(c) for c in row) for row in [head, *rows] if row]
        return [Paragraph(line, st.cell) for line in lines]
    align = {"center": TA_CENTER, "right": TA_RIGHT}
    cell_styles = [
        ParagraphStyle(f"cell-{n}", parent=st.cell, alignment=align.get(a, TA_LEFT))
        for n, a in enumerate(block.align[: len(head)] + ["left"] * len(head))
    ]
    columns = [[r[n] for r in [head, *rows]] for n in range(len(head))]
    widths = _col_widths(columns, width - st.body.leftIndent)
    data = [[_cell(c, st.head_cell, widths[n]) for n, c in enumerate(head)]]
    data += [[_cell(c, cell_styles[n], widths[n]) for n, c in enumerate(row)] for row in rows]
    t = Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
    aligns = [("ALIGN", (n, 0), (n, -1), a.upper()) for n, a in enumerate(block.align[: len(head)]) if a != "left"]
    t.setStyle(
        TableStyle(
            [
                *aligns,
                ("FONTNAME", (0, 0), (-1, -1), FONT),
                ("FONTSIZE", (0, 0), (-1, -1), st.cell.fontSize),
                ("LEADING", (0, 0), (-1, -1), st.cell.leading),
                ("GRID", (0, 0), (-1, -1), 0.5, RULE),
                ("BACKGROUND", (0, 0), (-1, 0), HEAD_BG),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    indent = st.body.leftIndent
    out: list[Flowable] = [Indenter(left=indent), t, Indenter(left=-indent), Spacer(1, 2 * mm)]
    if len(block.head) > MAX_TABLE_COLUMNS:
        out.append(Paragraph(f"（{MAX_TABLE_COLUMNS + 1}列目以降は省略しました。）", st.small))
    return out


def flowables(items: list[Block], width: float, indent: float = 0, *, flat: bool = False) -> list[Flowable]:
    """The blocks of one answer (or intro) as flowables `width` points wide."""
    st = Styles.make(indent)
    out: list[Flowable] = []
    for block in items:
        if isinstance(block, render.Heading):
            out.append(Paragraph(markup(block.spans), st.headings[block.level - 1]))
        elif isinstance(block, render.Para):
            out.append(Paragraph(markup(block.spans) or "&nbsp;", st.body))
        elif isinstance(block, render.ListBlock):
            out += _list(block, width, indent, flat=flat)
        elif isinstance(block, render.Table):
            out += table(block, width, st, flat=flat)
        elif isinstance(block, render.Code):
            out.append(_code(block.text, st.code))
        elif isinstance(block, render.Quote):
            inner = flowables(block.blocks, width, indent + 5 * mm, flat=flat)
            for f in inner:
                if isinstance(f, Paragraph):
                    f.style = ParagraphStyle("quote", parent=f.style, textColor=MUTED)
            out += inner
        elif isinstance(block, render.Rule):
            out.append(Paragraph("―" * 20, ParagraphStyle("rule", parent=st.small, alignment=TA_CENTER)))
    return out


def _list(block: render.ListBlock, width: float, indent: float, *, flat: bool) -> list[Flowable]:
    out: list[Flowable] = []
    child_indent = indent + 6 * mm
    for n, item in enumerate(block.items, block.start):
        mark = f"{n}." if block.ordered else "•"
        inner = flowables(item, width, child_indent, flat=flat) or [Paragraph("&nbsp;", Styles.make(child_indent).body)]
        first = inner[0]
        if isinstance(first, Paragraph):
            first.bulletText = mark
            first.style = ParagraphStyle("li", parent=first.style, bulletIndent=indent + 1 * mm, bulletFontName=FONT)
        out += inner
    return out
