"""The analyser and normaliser on their own (no database)."""

from __future__ import annotations

import pytest

from core.search import variants
from core.search.analyse import keys
from core.search.text import kanji_number, normalize


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("申込", "申し込み"),
        ("申込み", "申し込み"),
        ("受付", "受け付け"),
        ("手続", "手続き"),
        ("取扱い", "取り扱い"),
        ("差押", "差し押さえ"),
        ("差押え", "差し押さえ"),
        ("サーバ", "サーバー"),
        ("コンピュータ", "コンピューター"),
        ("ｻｰﾊﾞｰ", "サーバー"),
        ("ヴァイオリン", "バイオリン"),
        ("ワーク・ライフ・バランス", "ワークライフバランス"),
        ("髙橋", "高橋"),
        ("長﨑", "長崎"),
        ("渡邊", "渡辺"),
        ("渡邉", "渡辺"),
        ("齋藤", "斎藤"),
        ("小澤", "小沢"),
        ("濵田", "浜田"),
        ("濱田", "浜田"),
        ("第三回", "第3回"),
        ("十一歳", "11歳"),
        ("ＡＢＣ", "abc"),
    ],
)
def test_variants_meet(a, b):
    assert keys(a) == keys(b)


def test_particles_drop_and_compounds_split():
    assert keys("保育料の滞納") == keys("保育料滞納") == ["保育", "料", "滞納"]


def test_variant_table_is_the_maintained_one():
    assert len(variants.table()) > 5000  # ja-itaiji, not a hand list
    assert "國高".translate(variants.translation()) == "国高"


@pytest.mark.parametrize(
    ("text", "value"), [("一", 1), ("十一", 11), ("二十", 20), ("百二十三", 123), ("二〇二六", 2026)]
)
def test_kanji_numbers(text, value):
    assert kanji_number(text) == value


def test_normalise_keeps_ordinary_words():
    assert normalize("一般財団 三重県") == "一般財団 三重県"
