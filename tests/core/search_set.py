"""The labelled search-quality set: realistic municipal texts and the queries staff type for them.

Relevance is judged by meaning: `relevant` lists what a reader asking that query wants, whether
or not it shares a substring with the query. `chonai bench search-quality` scores it and
tests/core/test_search_quality.py runs every query on SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools

# (id, kind, title, body)
TARGETS: list[tuple[str, str, str, str]] = [
    # width and case, small kana, voiced marks
    ("w1", "faq_entry", "ワクチン接種の予約はどこでできますか？", "コールセンターとウェブの予約システムで受け付けています。"),
    ("w2", "faq_entry", "ＬＩＮＥ公式アカウントで何を通知していますか？", "休日当番医と防災情報を配信しています。"),
    ("w3", "question", "申請書をＰＤＦ化するときの注意点は？", "個人番号の欄を黒塗りしてから保存してください。"),
    ("w4", "broadcast", "コールセンターの混雑対策", "繁忙期の人員配置と自動音声案内の工夫を紹介します。"),
    ("w5", "faq_entry", "ＤＸ推進計画はどう策定しましたか？", "庁内の業務棚卸しから始め、３年計画にまとめました。"),
    ("w6", "faq_entry", "子育てガイドブックはどこで配布していますか？", "市役所の窓口と保健センターで配っています。"),
    ("w7", "question", "キャンセル待ちの受付方法を教えてください", "電話で受け、空きが出たら順にご連絡します。"),
    # okurigana
    ("o1", "faq_entry", "放課後児童クラブの申し込み期限はいつですか？", "毎年２月末までに申請書を提出してください。"),
    ("o2", "faq_entry", "窓口の受付時間は何時までですか？", "平日の８時半から１７時１５分までです。"),
    ("o3", "question", "転入手続きの流れを知りたい", "転入届の提出後、国民年金と児童手当の窓口を回ります。"),
    ("o4", "faq_entry", "個人情報の取扱いで気をつけることは？", "持ち出し簿を作り、保存期間を過ぎたら廃棄します。"),
    ("o5", "faq_entry", "滞納者の預金差押えはどう進めますか？", "財産調査で口座を特定し、金融機関に通知します。"),
    ("o6", "question", "給与の差し押さえで勤務先に連絡するときは？", "差押通知書を送り、毎月の控除額を確認します。"),
    ("o7", "broadcast", "イベントの申込みをオンライン化した話", "電子申請の導入で、紙の申込書がなくなりました。"),
    # long vowels, dashes, 中黒, 〜, ヴァ/バ
    ("l1", "faq_entry", "ファイルサーバーの更新時期は？", "保守期限の一年前に予算要求しています。"),
    ("l2", "question", "コンピュータウイルスに感染したときの連絡先は？", "情報政策課へすぐに電話し、端末をネットワークから外してください。"),
    ("l3", "broadcast", "ワーク・ライフ・バランスを進める職場づくり", "育児中の職員の声から始めた取り組みです。"),
    ("l4", "faq_entry", "バイオリン教室の会場はどこですか？", "市民会館の第二練習室です。"),
    ("l5", "faq_entry", "プリンターが故障したときの手順は？", "保守業者へ連絡し、管理番号を伝えてください。"),
    ("l6", "faq_entry", "9時〜17時の窓口以外で相談できますか？", "夜間は電話予約制の相談窓口があります。"),
    ("l7", "question", "メーリングリストの運用ルールは？", "登録と削除は情報政策課が一元管理しています。"),
    # variant kanji in names and places
    ("v1", "broadcast", "髙橋課長の講演「窓口改革の五年間」", "書かない窓口の導入と職員研修の話です。"),
    ("v2", "faq_entry", "長崎市の事例を教えてください", "離島の住民向けにオンライン相談を始めています。"),
    ("v3", "broadcast", "渡邊さんの発表：ふるさと納税の返礼品", "地場産品の選定と事業者との調整について。"),
    ("v4", "question", "渡辺係長の報告にあった委託の件", "仕様書の作り方を共有します。"),
    ("v5", "faq_entry", "齋藤主査のまとめた手引きはどこにありますか？", "庁内ポータルの文書庫に置いています。"),
    ("v6", "broadcast", "小澤講師の研修「伝わる文書」", "公用文の書き方を実例で学びます。"),
    ("v7", "faq_entry", "浜松市との共同事業の進め方は？", "協定を結び、負担金の割合を決めました。"),
    ("v8", "question", "濵田氏の寄稿はどこで読めますか？", "広報紙の十一月号に掲載しています。"),
    # kanji and arabic numerals
    ("n1", "faq_entry", "第三回勉強会の資料はどこですか？", "シリーズのページからダウンロードできます。"),
    ("n2", "faq_entry", "11歳以下の接種に保護者の同意は必要ですか？", "同意書の提出が必要です。"),
    ("n3", "broadcast", "第10回研修の振り返り", "参加者アンケートの結果を共有します。"),
    ("n4", "faq_entry", "3か月健診の案内はいつ届きますか？", "対象月の前月末に郵送しています。"),
    ("n5", "question", "第二十一回定例会の議案は？", "条例改正が三件、補正予算が一件です。"),
    ("n6", "faq_entry", "65歳以上の高齢者への周知方法は？", "自治会の回覧と個別通知を併用しています。"),
    # hiragana readings
    ("r1", "faq_entry", "接種券の再発行はできますか？", "本人確認書類を持って窓口に来てください。"),
    ("r2", "question", "児童扶養手当の届出はいつまでですか？", "八月中に現況届を提出してください。"),
    ("r3", "broadcast", "滞納整理の進め方", "納税相談から財産調査までの流れを解説します。"),
    ("r4", "faq_entry", "固定資産税の減免を受けられるのは？", "災害で家屋が損壊した場合などです。"),
    ("r5", "faq_entry", "防災訓練の実施時期は？", "毎年九月の第一日曜日に行っています。"),
    ("r6", "question", "窓口の混雑緩和で効果があった工夫は？", "番号札のオンライン発行です。"),
    # compounds typed without spaces
    ("c1", "faq_entry", "保育料の滞納にはどう対応していますか？", "納付相談を案内し、分割納付を認めています。"),
    ("c2", "faq_entry", "住民税の申告期限はいつですか？", "毎年三月十五日です。"),
    ("c3", "broadcast", "避難所の運営マニュアルを作り直した話", "女性の視点を入れて改訂しました。"),
    ("c4", "question", "職員の時間外勤務を削減するには？", "定時退庁日を設け、業務の平準化を進めました。"),
    ("c5", "faq_entry", "空き家の適正な管理をどう促していますか？", "所有者に文書で通知し、相談会を開いています。"),
    ("c6", "faq_entry", "ごみの分別方法が分からないという問い合わせ", "分別アプリとごみカレンダーを案内しています。"),
    # glossary (abbreviations and synonyms)
    ("g1", "faq_entry", "マイナンバーカードの交付予約は必要ですか？", "交付通知書が届いたら予約してください。"),
    ("g2", "question", "国民健康保険の加入手続きに必要なものは？", "本人確認書類と離職票などです。"),
    ("g3", "faq_entry", "住民基本台帳の閲覧制限はどう申請しますか？", "支援措置の申出書を提出してください。"),
    ("g4", "broadcast", "国保の税率改定を住民にどう説明したか", "説明会とシミュレーションの公開を行いました。"),
    ("g5", "faq_entry", "パブリックコメントの実施期間は？", "原則として三十日以上です。"),
    ("g6", "faq_entry", "会計年度任用職員の任用手続きは？", "人事課が募集し、面接のうえ任用します。"),
    # the right words behind the IME slips
    ("i1", "faq_entry", "市民公開講座の申込方法は？", "広報紙の申込欄かウェブで受け付けています。"),
    ("i2", "broadcast", "異常気象に備える防災計画", "線状降水帯への対応を見直しました。"),
    ("i3", "faq_entry", "規制緩和の特区申請はどこが担当ですか？", "企画政策課が窓口です。"),
    ("i4", "question", "市長会の要望書はいつ提出しますか？", "毎年十月に国へ提出しています。"),
    ("i5", "faq_entry", "制度改正のお知らせはどこに載りますか？", "ホームページのお知らせ欄に掲載します。"),
]

_DISTRACTOR_TOPICS = [
    "公用車", "庁舎の清掃", "議会の傍聴", "図書館の蔵書", "公園の遊具", "道路の補修", "水道メーター",
    "投票所", "成人式", "姉妹都市交流", "消防団", "街路樹", "市営住宅", "文化財", "観光案内所",
    "献血", "交通安全教室", "農業委員会", "下水道の接続", "墓地の使用",
]
_DISTRACTOR_ASPECTS = ["予算", "担当課", "委託先", "年間スケジュール", "課題"]
_DISTRACTOR_BODIES = [
    "担当課で例年どおり進めており、詳しくは庁内の掲示板をご覧ください。",
    "前年度の実績を踏まえて見直しを行い、関係課と調整しています。",
    "近隣の自治体と情報交換しながら、改善点を洗い出しています。",
    "市民からの意見を取り入れ、運用を少しずつ変えてきました。",
]


def entries() -> list[tuple[str, str, str, str]]:
    """Targets plus 100 distractors on topics no query asks about."""
    out = list(TARGETS)
    for i, (topic, aspect) in enumerate(itertools.product(_DISTRACTOR_TOPICS, _DISTRACTOR_ASPECTS)):
        kind = ("faq_entry", "question", "broadcast", "program")[i % 4]
        body = _DISTRACTOR_BODIES[i % len(_DISTRACTOR_BODIES)]
        out.append((f"d{i}", kind, f"{topic}の{aspect}について", body))
    return out


# (class, query, relevant ids, expected 「もしかして」 or None)
QUERIES: list[tuple[str, str, list[str], str | None]] = [
    ("width", "ﾜｸﾁﾝ 予約", ["w1"], None),
    ("width", "line 公式アカウント", ["w2"], None),
    ("width", "pdf化", ["w3"], None),
    ("width", "ｺｰﾙｾﾝﾀｰ 混雑", ["w4"], None),
    ("width", "dx推進計画", ["w5"], None),
    ("width", "ｶﾞｲﾄﾞﾌﾞｯｸ", ["w6"], None),
    ("width", "ｷｬﾝｾﾙ待ち", ["w7"], None),
    ("okurigana", "児童クラブ 申込", ["o1"], None),
    ("okurigana", "受け付け時間", ["o2"], None),
    ("okurigana", "転入手続", ["o3"], None),
    ("okurigana", "個人情報の取り扱い", ["o4"], None),
    ("okurigana", "預金 差し押さえ", ["o5"], None),
    ("okurigana", "給与差押", ["o6"], None),
    ("okurigana", "イベント 申し込み", ["o7"], None),
    ("long_vowel", "ファイルサーバ 更新", ["l1"], None),
    ("long_vowel", "コンピューターウイルス", ["l2"], None),
    ("long_vowel", "ワークライフバランス", ["l3"], None),
    ("long_vowel", "ヴァイオリン教室", ["l4"], None),
    ("long_vowel", "プリンタ―故障", ["l5"], None),
    ("long_vowel", "9時～17時 窓口", ["l6"], None),
    ("long_vowel", "メ−リングリスト", ["l7"], None),
    ("variant_kanji", "高橋課長", ["v1"], None),
    ("variant_kanji", "長﨑市 事例", ["v2"], None),
    ("variant_kanji", "渡辺 発表", ["v3"], None),
    ("variant_kanji", "渡邉 報告", ["v4"], None),
    ("variant_kanji", "斎藤主査", ["v5"], None),
    ("variant_kanji", "小沢講師", ["v6"], None),
    ("variant_kanji", "濱松市", ["v7"], None),
    ("variant_kanji", "浜田氏", ["v8"], None),
    ("numerals", "第3回 勉強会", ["n1"], None),
    ("numerals", "十一歳", ["n2"], None),
    ("numerals", "第十回 研修", ["n3"], None),
    ("numerals", "三か月健診", ["n4"], None),
    ("numerals", "第21回定例会", ["n5"], None),
    ("numerals", "六十五歳以上", ["n6"], None),
    ("reading", "せっしゅけん", ["r1"], None),
    ("reading", "じどうふようてあて", ["r2"], None),
    ("reading", "たいのうせいり", ["r3"], None),
    ("reading", "げんめん", ["r4"], None),
    ("reading", "ぼうさいくんれん", ["r5"], None),
    ("reading", "こんざつかんわ", ["r6"], None),
    ("compound", "保育料滞納", ["c1"], None),
    ("compound", "住民税申告期限", ["c2"], None),
    ("compound", "避難所運営マニュアル", ["c3"], None),
    ("compound", "時間外勤務削減", ["c4"], None),
    ("compound", "空き家管理", ["c5"], None),
    ("compound", "ごみ分別", ["c6"], None),
    ("glossary", "マイナカード 交付", ["g1"], None),
    ("glossary", "国保 加入", ["g2"], None),
    ("glossary", "住基 閲覧", ["g3"], None),
    ("glossary", "国民健康保険 税率", ["g4"], None),
    ("glossary", "パブコメ", ["g5"], None),
    ("glossary", "会計年度職員", ["g6"], None),
    ("ime", "摂取券", ["r1"], "接種券"),
    ("ime", "後悔講座", ["i1"], "公開講座"),
    ("ime", "以上気象", ["i2"], "異常気象"),
    ("ime", "帰省緩和", ["i3"], "規制緩和"),
    ("ime", "支庁会", ["i4"], "市長会"),
    ("ime", "精度改正", ["i5"], "制度改正"),
    ("no_hit", "原子力発電所の廃炉", [], None),
    ("no_hit", "宇宙開発", [], None),
    ("no_hit", "競馬場の売上", [], None),
    ("no_hit", "接種券 宇宙", [], None),
    ("no_hit", "ワクチン 競馬", [], None),
    ("no_hit", "ドローン配送", [], None),
    ("no_hit", "火山噴火 避難計画", [], None),
    ("no_hit", "漁業権の更新", [], None),
    ("no_hit", "窓口 ロボット 導入", [], None),
    ("no_hit", "庁舎の耐震化 予算", [], None),
    ("plain", "予約システム", ["w1"], None),
    ("plain", "防災情報 配信", ["w2"], None),
    ("plain", "黒塗り", ["w3"], None),
    ("plain", "自動音声", ["w4"], None),
    ("plain", "業務棚卸し", ["w5"], None),
    ("plain", "転入届", ["o3"], None),
    ("plain", "持ち出し簿", ["o4"], None),
    ("plain", "財産調査", ["o5", "r3"], None),
    ("plain", "差押通知書", ["o6"], None),
    ("plain", "電子申請", ["o7"], None),
    ("plain", "保守期限", ["l1"], None),
    ("plain", "情報政策課", ["l2", "l7"], None),
    ("plain", "育児中の職員", ["l3"], None),
    ("plain", "市民会館", ["l4"], None),
    ("plain", "保守業者", ["l5"], None),
    ("plain", "夜間 相談", ["l6"], None),
    ("plain", "書かない窓口", ["v1"], None),
    ("plain", "離島 オンライン相談", ["v2"], None),
    ("plain", "返礼品", ["v3"], None),
    ("plain", "仕様書", ["v4"], None),
    ("plain", "公用文", ["v6"], None),
    ("plain", "負担金", ["v7"], None),
    ("plain", "広報紙", ["v8", "i1"], None),
    ("plain", "同意書", ["n2"], None),
    ("plain", "アンケート", ["n3"], None),
    ("plain", "条例改正", ["n5"], None),
    ("plain", "自治会 回覧", ["n6"], None),
    ("plain", "本人確認書類", ["r1", "g2"], None),
    ("plain", "現況届", ["r2"], None),
    ("plain", "番号札", ["r6"], None),
    ("plain", "分割納付", ["c1"], None),
    ("plain", "女性の視点", ["c3"], None),
    ("plain", "定時退庁日", ["c4"], None),
    ("plain", "ごみカレンダー", ["c6"], None),
    ("plain", "交付通知書", ["g1"], None),
    ("plain", "支援措置", ["g3"], None),
    ("plain", "線状降水帯", ["i2"], None),
    ("plain", "特区申請", ["i3"], None),
    ("plain", "要望書", ["i4"], None),
]
