"""FAQ資料 exports: the demo PDF checked with poppler (fonts, text, a rendered page), Word, spreadsheets,
hostile answers in every format, and the one Markdown renderer."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook
from sqlalchemy import select

from faq import exports, render
from faq.models import FaqDocument, FaqEntry, FaqVersion, StudySeries, StudySession
from tests.helpers import login

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _run(*args: str) -> str:
    return subprocess.run(list(args), capture_output=True, text=True, check=True, timeout=60).stdout


async def _demo_doc(db) -> FaqDocument:
    session = (await db.execute(select(StudySession).where(StudySession.number == 1))).scalar_one()
    return (await db.execute(select(FaqDocument).where(FaqDocument.session_id == session.id))).scalar_one()


def _fonts(path: Path) -> list[list[str]]:
    lines = _run("pdffonts", str(path)).splitlines()[2:]
    return [line.split() for line in lines]


@SQLITE
async def test_demo_pdf_embeds_its_font_and_prints_contents_tables_and_page_numbers(client, demo, db, tmp_path):
    doc = await _demo_doc(db)
    await login(client, "member@example.jp")
    r = await client.get(f"/faq/documents/{doc.id}/v/{doc.current_version}/download/pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    path = tmp_path / "faq.pdf"
    path.write_bytes(r.content)

    fonts = _fonts(path)
    assert fonts, "no fonts listed"
    for row in fonts:  # name type encoding emb sub uni ...
        assert re.fullmatch(r"[A-Z]{6}\+IPAexGothic", row[0]), row
        assert row[-5:-2] == ["yes", "yes", "yes"], row  # embedded, subset, ToUnicode
    info = _run("pdfinfo", str(path))
    assert re.search(r"Page size:\s+595\.\d+ x 841\.\d+ pts \(A4\)", info), info
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert pages >= 2

    text = _run("pdftotext", "-layout", str(path), "-")
    flat = text.replace("\n", "")
    assert "目次" in text and "1. 予約・受付" in text and "Q1. 高齢者の予約" in text
    assert re.search(r"1\. 予約・受付\s+2\n", text), "contents line with its page number"
    assert re.search(r"Q1\. 高齢者の予約.*\s+2\n", text), "question in the contents with its page number"
    footers = re.findall(rf"^\s+(\d+)\s*/\s*{pages}$", text, re.M)
    assert footers == [str(n) for n in range(1, pages + 1)], footers
    assert "v2（" in text and "引用URL" in text and f"/faq/documents/{doc.id}/v/2" in text
    assert "FAQ資料" in flat and "FA Q" not in flat  # Latin text is not spaced out
    # The Markdown table is a table: its cells sit on one line in reading order, not "| a | b |" text.
    assert re.search(r"医師\s+1名\s+医師会の輪番", text), text
    assert "| 医師" not in text and "**" not in text
    assert "（https://www.mhlw.go.jp/stf/seisakunitsuite/bunya/vaccine_00184.html）" in flat
    # No page is only a URL: the last page still has questions on it.
    last = text.split("\f")[pages - 1]
    assert re.search(r"Q\d+\.", last), last

    # Rendered pages: the contents page has ink and a footer; the page with the staff table shows its grid
    # (long horizontal rules: the header rule plus one per table row border).
    page1, page2 = _raster(path, 1, tmp_path), _raster(path, 2, tmp_path)
    width, height, pixels = page1
    assert sum(1 for p in pixels if p < 128) > 150 and any(p < 220 for p in pixels[int(height * 0.93) * width :])
    width, height, pixels = page2
    rules = [y for y in range(height) if sum(1 for p in pixels[y * width : (y + 1) * width] if p < 230) > width * 0.6]
    assert len(rules) >= 5, rules


def _raster(path: Path, page: int, tmp_path: Path) -> tuple[int, int, bytes]:
    prefix = tmp_path / f"page{page}"
    _run("pdftoppm", "-f", str(page), "-l", str(page), "-r", "40", "-gray", str(path), str(prefix))
    pgm = next(tmp_path.glob(f"page{page}*.pgm")).read_bytes()
    width, height = (int(v) for v in pgm.split(b"\n")[1].split())
    return width, height, pgm[-width * height :]


@SQLITE
async def test_demo_docx_has_one_heading_per_category_numbered_questions_and_tables(client, demo, db):
    doc = await _demo_doc(db)
    await login(client, "member@example.jp")
    r = await client.get(f"/faq/documents/{doc.id}/v/{doc.current_version}/download/docx")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    word = Document(io.BytesIO(r.content))
    h1 = [p.text for p in word.paragraphs if p.style.name == "Heading 1"]
    h2 = [p.text for p in word.paragraphs if p.style.name == "Heading 2"]
    assert h1 == ["予約・受付", "会場運営", "接種券・通知"]  # the series' category order
    assert [t.split(".")[0] for t in h2] == ["Q1", "Q2", "Q3", "Q4"]
    section = word.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    staff = [t for t in word.tables if t.rows[0].cells[0].text == "役割"]
    assert len(staff) == 1 and [c.text for c in staff[0].rows[1].cells] == ["医師", "1名", "医師会の輪番"]
    assert "vaccine_00184.html" in r.content.decode("latin-1") or any(
        "vaccine_00184" in rel.target_ref for rel in word.part.rels.values() if rel.is_external
    )


@SQLITE
async def test_spreadsheets_have_one_plain_row_per_entry_with_askers(client, demo, db):
    doc = await _demo_doc(db)
    await login(client, "member@example.jp")
    base = f"/faq/documents/{doc.id}/v/{doc.current_version}/download"
    rows = list(csv.reader(io.StringIO((await client.get(base + "/csv")).content.decode("utf-8-sig"))))
    assert rows[0] == exports.COLUMNS and len(rows) == 5
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["カテゴリ"] == "予約・受付" and first["版"] == "v2" and first["票数"] == "3"
    assert "**" not in first["回答"] and "・ウェブ予約の代行窓口を公民館に設置" in first["回答"]
    assert first["質問した自治体等"]  # demo questions are asked by name
    ws = load_workbook(io.BytesIO((await client.get(base + "/xlsx")).content)).active
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:H5"
    assert ws.column_dimensions["D"].width == 80 and ws["D2"].alignment.wrap_text
    assert ws["E2"].value == first["質問した自治体等"] and ws["C1"].value == "質問"


def _hostile_export() -> exports.Export:
    series = StudySeries(id=1, title="😀 髙橋・﨑・齋藤の勉強会")
    session = StudySession(
        id=1, series_id=1, number=7, title="旧字體と絵文字", starts_at=dt.datetime(2026, 11, 1, 10, tzinfo=dt.UTC)
    )
    session.series = series
    version = FaqVersion(
        id=1, document_id=1, number=1, title="=HYPERLINK(\"x\") 資料", intro="<iframe src=x></iframe>はじめに",
        note="初版", published_at=dt.datetime(2026, 11, 2, tzinfo=dt.UTC),
    )  # fmt: skip
    table = "| 番号 | 内容 | 備考 |\n|---|---|---|\n" + "".join(f"| {i} | 行{i}の内容 | 😀 |\n" for i in range(2000))
    long_url = "https://example.jp/" + "a/" * 400
    answers = [
        table,
        f"[とても長いURL]({long_url}) と {long_url}",
        "![会場図](https://example.jp/map.png) ![](javascript:void(0))",
        "<script>alert(1)</script><div onclick=x>生のHTML</div> <b>太字</b> <img src=x onerror=alert(1)>",
        "絵文字 😀👍🏽 と 旧字体 髙 﨑 齋 邊 德 と `code` と\n\n```\n  インデント\n```\n\n> 引用\n\n---",
        "| 一列だけ |\n|---|\n| " + "長い" * 3000 + " |",
        "-1+1 と @SUM(A1)",
    ]
    entries = [
        FaqEntry(id=n, version_id=1, document_id=1, ord=n, category=["表", "その他"][n % 2], question=f"質問{n} 😀", answer=a, votes=n, asker="")
        for n, a in enumerate(answers, 1)
    ]  # fmt: skip
    return exports.Export(version, session, entries, "http://127.0.0.1:8000")


def test_hostile_answers_render_in_every_format(tmp_path):
    export = _hostile_export()
    for fmt in exports.FORMATS:
        body = exports.render_export(fmt, export)
        assert body, fmt
        (tmp_path / f"x.{fmt}").write_bytes(body)
    text = _run("pdftotext", str(tmp_path / "x.pdf"), "-")
    assert "行1999の内容" in text and "〓" in text and "髙" in text and "﨑" in text
    assert "alert(1)" not in text and "生のHTML" in text and "［画像: 会場図］" in text
    assert "<script>" not in text and "<b>" not in text
    assert all(row[0].endswith("IPAexGothic") for row in _fonts(tmp_path / "x.pdf"))
    word = Document(str(tmp_path / "x.docx"))
    assert len(word.tables[1].rows) == 2001  # tables[0] is the title block
    rows = list(csv.reader(io.StringIO((tmp_path / "x.csv").read_text("utf-8-sig"))))
    assert rows[7][3] == "'-1+1 と @SUM(A1)" and "alert(1)" not in rows[4][3]
    ws = load_workbook(tmp_path / "x.xlsx").active
    assert ws["D8"].value == "-1+1 と @SUM(A1)" and ws["D8"].data_type == "s"


def test_one_renderer_sanitises_html_and_turns_images_into_links():
    source = "**太字** <script>alert(1)</script> ![図](https://example.jp/a.png)\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    html = str(render.markdown_html(source))
    assert "<strong>太字</strong>" in html and "<script" not in html and "alert" not in html
    assert '<a href="https://example.jp/a.png" class="image-link"' in html and "<img" not in html
    assert "<table>" in html and "<td>1</td>" in html
    assert 'href="javascript' not in str(render.markdown_html("[x](javascript:alert(1))"))
    text = render.markdown_text(source + "\n\n- [リンク](https://example.jp/)\n1. 一")
    assert text.splitlines() == [
        "太字  ［画像: 図］（https://example.jp/a.png）",
        "a | b",
        "1 | 2",
        "・リンク（https://example.jp/）",
        "1. 一",
    ]


def test_pdf_benchmark_renders_300_entries_and_prints_json():
    out = subprocess.run(
        [sys.executable, "-m", "web.cli", "bench", "faq-pdf", "--entries", "300", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["entries"] == 300 and result["pages"] > 10 and result["bytes"] > 10_000
    # Wall time depends on the machine's load (CI shares its cores); the CPU time this process spent does not.
    # The target is 5 s (result["ok"]); this guard only catches regressions on a loaded shared machine.
    assert result["limit_seconds"] == 5.0 and 0 < result["cpu_seconds"] <= 10.0, result
