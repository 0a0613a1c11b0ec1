"""FAQ documents: downloads in four formats, permalinks, empty documents, import and the search benchmark."""

from __future__ import annotations

import csv
import io
import json
import subprocess

from openpyxl import load_workbook
from sqlalchemy import select

from faq.models import FaqDocument, StudySession
from tests.helpers import login, post_form
from tests.web.test_cli import chonai


async def _demo_doc(db) -> FaqDocument:
    session = (await db.execute(select(StudySession).where(StudySession.number == 1))).scalar_one()
    return (await db.execute(select(FaqDocument).where(FaqDocument.session_id == session.id))).scalar_one()


async def test_downloads_render_japanese(client, demo, db, tmp_path):
    doc = await _demo_doc(db)
    await login(client, "member@example.jp")
    base = f"/faq/documents/{doc.id}/v/{doc.current_version}/download"
    pdf = await client.get(base + "/pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    (tmp_path / "faq.pdf").write_bytes(pdf.content)
    text = subprocess.run(  # noqa: ASYNC221 - a short local tool run
        ["pdftotext", str(tmp_path / "faq.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "接種券を紛失した方の再発行" in text.replace("\n", "") and "予約・受付" in text
    md = (await client.get(base + "/md")).text
    assert md.startswith("# ワクチン接種体制") and "### Q1." in md and "/faq/entries/" in md
    raw = (await client.get(base + "/csv")).content
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["番号", "カテゴリ", "質問", "回答", "質問した自治体等", "票数", "版", "URL"] and len(rows) == 5
    book = load_workbook(io.BytesIO((await client.get(base + "/xlsx")).content))
    assert book.active["C2"].value and "予約" in str(book.active["C2"].value)
    assert (await client.get(base + "/exe")).status_code == 404
    assert (await client.get(f"/faq/documents/{doc.id}/v/99/download/pdf")).status_code == 404
    client.cookies.clear()
    assert (await client.get(base + "/pdf", follow_redirects=False)).status_code in (303, 401)


async def test_permalinks_and_old_versions(client, demo, db):
    doc = await _demo_doc(db)
    await login(client, "member@example.jp")
    page = (await client.get(f"/faq/documents/{doc.id}/v/1")).text
    assert "旧版です" in page
    v1_entry = int(page.split('href="/faq/entries/')[1].split('"')[0])
    entry = await client.get(f"/faq/entries/{v1_entry}")
    assert entry.status_code == 200 and "旧版" in entry.text
    assert (await client.get("/faq/entries/999999")).status_code == 404


async def test_edit_publish_and_refuse_empty(client, demo, db):
    doc = await _demo_doc(db)
    await login(client, "member@example.jp")
    assert (await client.get(f"/faq/documents/{doc.id}/edit")).status_code == 403
    await login(client, "naha@example.jp")
    form = {"count": "0", "title": "空の資料", "intro": "", "action": "publish", "note": "全部消した"}
    r = await post_form(client, f"/faq/documents/{doc.id}/edit", form)
    assert r.status_code == 409 and "1件もない" in r.text
    form = {
        "count": "1",
        "title": "改訂版",
        "intro": "<script>x</script>**はじめに**",
        "category-0": "予約・受付",
        "question-0": "予約の質問",
        "answer-0": "[リンク](javascript:alert(1)) と <b>太字</b>",
        "action": "publish",
        "note": "整理",
    }
    r = await post_form(client, f"/faq/documents/{doc.id}/edit", form, follow_redirects=False)
    assert r.status_code == 303
    page = (await client.get(f"/faq/documents/{doc.id}")).text
    assert "改訂版" in page and "<script>x" not in page and 'href="javascript' not in page and "<b>太字" not in page
    assert "<strong>はじめに</strong>" in page


def test_import_is_all_or_nothing(tmp_path):
    env = {"VAR_DIR": str(tmp_path)}
    assert chonai(env, "migrate").returncode == 0
    good = [
        {
            "series": "保育DX勉強会",
            "session": 1,
            "date": "2025-10-01",
            "category": "入所",
            "question": "入所申請の電子化は？",
            "answer": "ぴったりサービスです。",
        },
        {
            "series": "保育DX勉強会",
            "session": 2,
            "date": "2025-11-05",
            "category": "登園",
            "question": "登園アプリの費用は？",
            "answer": "補助金を使いました。",
        },
    ]
    path = tmp_path / "faq.jsonl"
    path.write_text(
        "\n".join(json.dumps(x, ensure_ascii=False) for x in good) + '\n{"series": "保育DX勉強会", "session": "三"}\n'
    )
    bad = chonai(env, "faq", "import", str(path))
    assert bad.returncode == 2 and "3行目" in bad.stderr and "何も取り込んでいません" in bad.stderr
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in good) + "\nnot json\n")
    bad = chonai(env, "faq", "import", str(path))
    assert bad.returncode == 2 and "3行目" in bad.stderr
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in good) + "\n")
    ok = chonai(env, "faq", "import", str(path))
    assert ok.returncode == 0, ok.stderr
    assert "2件" in ok.stdout  # (the progress bar starts at 200 entries: tests/faq/test_import.py)
    bench_like = chonai(env, "faq", "import", str(tmp_path / "missing.jsonl"))
    assert bench_like.returncode == 2


def test_search_benchmark_prints_json(tmp_path):
    out = chonai(
        {"VAR_DIR": str(tmp_path)},
        "bench",
        "search",
        "--entries",
        "300",
        "--queries",
        "20",
        "--reference",
        "5",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["entries"] == 300 and result["queries"] == 20
    assert result["p95_ms"] >= result["p50_ms"] > 0 and result["median_hits"] > 0
