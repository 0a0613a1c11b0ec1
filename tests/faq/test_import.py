"""`chonai faq import`: idempotent merges, a new version only for real changes, --dry-run, exact error positions."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import func, select

from faq import importer
from faq.models import FaqEntry, FaqVersion, StudySeries
from tests.web.test_cli import chonai
from web.progress import ProgressBar


def line(**overrides) -> str:
    row = {
        "series": "窓口DX勉強会",
        "session": 1,
        "date": "2026-10-01",
        "category": "手続き",
        "question": "転入届はオンラインで出せますか？",
        "answer": "マイナポータルから出せます。",
    }
    row.update(overrides)
    return json.dumps(row, ensure_ascii=False)


def write(tmp_path, *lines: str):
    path = tmp_path / "faq.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def counts(db) -> tuple[int, int, int]:
    versions = await db.scalar(select(func.count()).select_from(FaqVersion))
    current = await db.scalar(select(func.count()).select_from(FaqEntry).where(FaqEntry.current.is_(True)))
    series = await db.scalar(select(func.count()).select_from(StudySeries))
    return versions, current, series


async def test_importing_twice_changes_nothing_and_a_changed_answer_is_a_new_version(db, tmp_path):
    first = write(
        tmp_path,
        line(),
        line(question="住民票の写しは？", answer="コンビニで取れます。"),
        line(session=2, question="マイナンバーカードの更新は？", answer="10年ごとです。"),
    )
    rows = importer.read_rows(first)
    summary = await importer.import_rows(db, rows, lambda d, t: None)
    assert (summary.added, summary.changed, summary.documents_published) == (3, 0, 2)
    assert await counts(db) == (2, 3, 1)

    again = await importer.import_rows(db, importer.read_rows(first), lambda d, t: None)
    assert (again.added, again.changed, again.unchanged, again.documents_published) == (0, 0, 3, 0)
    assert await counts(db) == (2, 3, 1)  # no new version, no duplicate entry

    changed = write(
        tmp_path, line(answer="マイナポータルから24時間出せます。"), line(question="新しい質問は？", answer="はい。")
    )
    result = await importer.import_rows(db, importer.read_rows(changed), lambda d, t: None)
    assert (result.added, result.changed, result.documents_published) == (1, 1, 1)
    assert [c.version for c in result.changes] == [2]
    versions, current, _ = await counts(db)
    assert versions == 3 and current == 4  # session 1: v2 with 3 entries; session 2: v1 with 1
    answers = set((await db.execute(select(FaqEntry.answer).where(FaqEntry.current.is_(True)))).scalars())
    assert "マイナポータルから24時間出せます。" in answers and "マイナポータルから出せます。" not in answers


async def test_dry_run_reports_exactly_what_would_change_and_writes_nothing(db, tmp_path):
    path = write(tmp_path, line(), line(question="別の質問は？"))
    preview = await importer.import_rows(db, importer.read_rows(path), lambda d, t: None, dry_run=True)
    assert (preview.added, preview.series_created, preview.sessions_created, preview.documents_published) == (
        2,
        1,
        1,
        1,
    )
    assert preview.changes[0].line() == (
        "  窓口DX勉強会 第1回（新しいシリーズ）（新しい回）: 追加 2, 変更 0, 同じ 0 → v1 を公開"
    )
    assert await counts(db) == (0, 0, 0)
    real = await importer.import_rows(db, importer.read_rows(path), lambda d, t: None)
    assert (real.added, real.documents_published) == (preview.added, preview.documents_published)


@pytest.mark.parametrize(
    ("text", "expected", "at"),
    [
        (
            '{"series": "勉強会", "session": 1,, "date": "2026-10-01"}',
            "2行目 32文字目: JSONとして読めません: 項目名を",
            ', "da',
        ),
        (
            '{"series": "勉強会" "session": 1}',
            "2行目 18文字目: JSONとして読めません: 項目の間に , がありません",
            '"sess',
        ),
        (line(session="3"), "2行目 34文字目: session: 1〜10000 の整数", '"3", '),
        (line(date="2026/10/01"), "2行目 45文字目: date: YYYY-MM-DD 形式", '"2026'),
        (line(question=""), "2行目 90文字目: question: 1〜1000文字", '"", "'),
        ("[1, 2]", "2行目 1文字目: 1行に1つのJSONオブジェクト", "[1, 2"),
        (json.dumps({"series": "x"}), "2行目: 項目がありません: session, date, category, question, answer", None),
        (line(), "2行目: question: 同じ回の同じ質問が1行目にもあります", None),
    ],
)
def test_errors_name_the_line_and_the_column(tmp_path, text, expected, at):
    path = write(tmp_path, line(), text)
    with pytest.raises(importer.ImportError_) as refused:
        importer.read_rows(path)
    assert str(refused.value).startswith(expected), str(refused.value)
    column = refused.value.column
    # The column (1-based, in characters, as editors count) points at the offending character.
    assert (text[column - 1 : column + 4] if column else None) == at


def test_a_bom_does_not_shift_the_first_line_s_columns(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + '{"series": "勉強会",, }'.encode())
    with pytest.raises(importer.ImportError_) as refused:
        importer.read_rows(path)
    assert str(refused.value).startswith("1行目 18文字目")  # the second comma, not shifted by the BOM


def test_progress_bar_redraws_on_a_terminal_and_writes_tenths_to_a_log():
    log = io.StringIO()
    bar = ProgressBar(1000, "取り込み中", stream=log)
    for done in range(0, 1001, 50):
        bar.update(done)
    bar.finish()
    lines = log.getvalue().splitlines()
    assert len(lines) == 11 and lines[-1] == "取り込み中 [##############################] 100% 1000/1000 件"

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Tty()
    bar = ProgressBar(1000, "取り込み中", stream=screen)
    bar.update(500)
    bar.update(1000)
    bar.finish()
    assert screen.getvalue().startswith("\r取り込み中 [###############...............]  50% 500/1000 件")
    assert screen.getvalue().endswith("100% 1000/1000 件\n")
    quiet = io.StringIO()
    ProgressBar(10, "x", stream=quiet).update(10)
    assert quiet.getvalue() == ""  # small files stay quiet


@pytest.mark.slow
def test_the_cli_dry_run_then_import_then_again(tmp_path):
    from tests.servers import prepare_database

    env = {"VAR_DIR": str(tmp_path / "var")}
    prepare_database(env, demo=False)
    path = write(tmp_path, *(line(session=1 + n // 100, question=f"質問{n}は？") for n in range(300)))
    dry = chonai(env, "faq", "import", "--dry-run", str(path))
    assert dry.returncode == 0, dry.stderr
    assert "取り込むと 300件（追加 300、変更 0、同じ 0）" in dry.stdout and "何も書き込んでいません" in dry.stdout
    assert "確認中 [" in dry.stderr and "100% 300/300 件" in dry.stderr  # the progress bar
    done = chonai(env, "faq", "import", str(path))
    assert "取り込み完了: 300件（追加 300、変更 0、同じ 0）" in done.stdout and "公開する版 3" in done.stdout
    again = chonai(env, "faq", "import", str(path))
    assert "取り込み完了: 300件（追加 0、変更 0、同じ 300）" in again.stdout and "公開する版 0" in again.stdout
    bad = write(tmp_path, line(), '{"series": 1}')
    refused = chonai(env, "faq", "import", str(bad))
    assert refused.returncode == 2 and "2行目" in refused.stderr and "何も取り込んでいません" in refused.stderr
