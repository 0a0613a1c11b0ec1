"""Demo content: the vaccination information-exchange series with past sessions and published FAQ documents."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.events import InProcessBus
from core.members.models import Member
from core.sections import Section
from faq import board, documents
from faq.models import (
    Attendance,
    FaqDocument,
    Question,
    QuestionAsker,
    QuestionStatus,
    QuestionVote,
    Registration,
    SeriesOrganiser,
    SessionState,
    StudySeries,
    StudySession,
    TopicRequest,
    TopicVote,
)

SERIES_TITLE = "ワクチン接種体制 情報交換会"

# (category, question, answer, asker, voters)
SESSION_1 = [
    (
        "予約・受付",
        "高齢者の予約がコールセンターに集中してつながりません。どのように分散させましたか？",
        "年齢で予約開始日をずらし（85歳以上→75歳以上→65歳以上）、**地区ごとに受付日**を分けました。\n\n- ウェブ予約の代行窓口を公民館に設置\n- 家族による代理予約を案内\n\nこれで初日の入電が約4割減りました。",
        "member@example.jp",
        ["fukuoka@example.jp", "kochi@example.jp", "host@example.jp"],
    ),
    (
        "予約・受付",
        "予約のキャンセル待ちはどう管理していますか？",
        "予約システムのキャンセル待ち機能は使わず、当日の余剰分は**接種会場ごとの名簿**で保育士・教員など優先職種に連絡しています。廃棄ゼロを目標に、終了1時間前に判断します。",
        "kochi@example.jp",
        ["member@example.jp"],
    ),
    (
        "接種券・通知",
        "接種券を紛失した方の再発行はどの窓口で受け付けていますか？",
        "本庁の予防接種担当と各支所の市民窓口で受け付けています。本人確認書類があれば即日再発行、郵送申請も可能です。様式は厚生労働省の手引きの参考様式をそのまま使っています。",
        "fukuoka@example.jp",
        ["member@example.jp", "kochi@example.jp"],
    ),
    (
        "会場運営",
        "集団接種会場の人員配置の目安を教えてください。",
        "1レーン（1時間あたり約40人）で、医師1名・看護師2名・受付事務3名・誘導2名を目安にしています。経過観察エリアには看護師1名を常駐させています。\n\n"
        "| 役割 | 1レーンあたり | 確保の方法 |\n|---|--:|---|\n| 医師 | 1名 | 医師会の輪番 |\n| 看護師 | 2名 | 潜在看護師の登録 |\n"
        "| 受付事務 | 3名 | 人材派遣（市の職員1名を責任者に） |\n| 誘導 | 2名 | シルバー人材センター |\n\n"
        "配置の考え方は[厚生労働省の接種会場の手引き](https://www.mhlw.go.jp/stf/seisakunitsuite/bunya/vaccine_00184.html)も参考にしました。",
        "member@example.jp",
        ["host@example.jp"],
    ),
]
SESSION_2 = [
    (
        "副反応・医療",
        "接種後に発熱した場合の問い合わせ先はどこに案内していますか？",
        "夜間・休日は県の**副反応専門相談窓口**、平日日中は市のコールセンターを案内しています。接種済証の裏面に両方の電話番号を印刷しました。",
        "kochi@example.jp",
        ["member@example.jp", "fukuoka@example.jp", "host@example.jp"],
    ),
    (
        "会場運営",
        "離島や山間部の住民の送迎はどうしていますか？",
        "送迎バスを地区単位で運行し、予約時に乗車地を選べるようにしました。タクシー券（往復分）を配布した町もあります。費用は国庫補助金の対象です。",
        "kochi@example.jp",
        ["member@example.jp"],
    ),
    (
        "財政・予算",
        "会場借上げや送迎の費用は補助対象になりますか？",
        "ワクチン接種体制確保事業の補助対象です。**補正予算**で計上し、実績報告で精算しました。対象経費の考え方は国のQ&Aを確認してください。",
        "fukuoka@example.jp",
        ["kochi@example.jp"],
    ),
    (
        "広報・周知",
        "外国人住民への周知で工夫したことはありますか？",
        "やさしい日本語と6言語の案内を作り、国際交流協会・日本語教室経由で配布しました。公式LINEの多言語メニューも好評でした。",
        "member@example.jp",
        [],
    ),
]
SESSION_3_OPEN = [
    ("体制・人員", "会計年度任用職員の応援体制はどのように組んでいますか？", "member@example.jp", ["kochi@example.jp"]),
    ("予約・受付", "マイナンバーカードでのオンライン予約を導入した自治体はありますか？", "fukuoka@example.jp", []),
]
REGISTRANTS = ["member@example.jp", "fukuoka@example.jp", "kochi@example.jp", "host@example.jp", "naha@example.jp"]
# Who actually took part (the board was open while it ran); one registrant never came.
ATTENDEES = ["member@example.jp", "fukuoka@example.jp", "naha@example.jp", "mhlw@example.jp"]
TOPICS = [
    (
        "接種記録のシステム連携と誤登録の直し方",
        "VRSと健康管理システムの二重入力を減らしたいです。",
        "member@example.jp",
        ["kochi@example.jp", "fukuoka@example.jp"],
    ),
    ("小児接種の会場づくり", "", "kochi@example.jp", ["member@example.jp"]),
]


async def load(db: AsyncSession, members: dict[str, Member], sections: dict[str, Section]) -> None:
    bus = InProcessBus()
    section = sections.get("ワクチン接種情報交換課")
    series = StudySeries(
        title=SERIES_TITLE,
        description="予防接種の体制づくりについて、全国の自治体担当者が質問し合い、答え合う勉強会です。毎回の質疑はFAQ資料にまとめて公開します。",
        section_id=section.id if section else None,
    )
    db.add(series)
    await db.flush()
    for email in ("naha@example.jp", "mhlw@example.jp"):
        db.add(SeriesOrganiser(series_id=series.id, member_id=members[email].id))
    now = utcnow()
    plan = [
        (1, "予約受付と接種券", now - dt.timedelta(days=28), SESSION_1),
        (2, "会場運営と副反応対応", now - dt.timedelta(days=14), SESSION_2),
    ]
    for number, title, starts, rows in plan:
        await _past_session(db, bus, series, members, number, title, starts, rows)
    await _live_session(db, bus, series, members, now)
    await _topics(db, series, members)


async def _session(db: AsyncSession, series: StudySeries, number: int, title: str, starts: dt.datetime) -> StudySession:
    session = StudySession(
        series_id=series.id,
        number=number,
        title=title,
        starts_at=starts,
        state=SessionState.LIVE,
        meeting_url="https://meet.example.jp/vaccine-exchange",
    )
    db.add(session)
    await db.flush()
    await db.refresh(session, ["series"])
    return session


async def _past_session(
    db: AsyncSession,
    bus: InProcessBus,
    series: StudySeries,
    members: dict[str, Member],
    number: int,
    title: str,
    starts: dt.datetime,
    rows: list[tuple[str, str, str, str, list[str]]],
) -> None:
    """A demo session that took place; the first one's document was revised once after publishing."""
    entries = [(c, q, a, members[asker], [members[v] for v in voters]) for c, q, a, asker, voters in rows]
    registrants = [members[e] for e in REGISTRANTS]
    attendees = [members[e] for e in ATTENDEES]
    publisher = members["naha@example.jp"]
    doc = await published_session(db, bus, series, number, title, starts, entries, registrants, attendees, publisher)
    if number == 1:
        drafts = await documents.draft_entries(db, doc.id)
        drafts[0].answer += "\n\n（追記）予約開始日の周知には広報紙の号外も使いました。"
        await db.commit()
        await documents.publish(db, publisher, doc, "Q1の回答に広報紙の号外について追記")


async def published_session(
    db: AsyncSession,
    bus: InProcessBus,
    series: StudySeries,
    number: int,
    title: str,
    starts: dt.datetime,
    entries: list[tuple[str, str, str, Member, list[Member]]],
    registrants: list[Member],
    attendees: list[Member],
    publisher: Member,
) -> FaqDocument:
    """A past session of `series` whose answered questions ((category, question, answer, asker, voters))
    became a published FAQ document, as the board and the editor leave it (also `chonai bench pages`)."""
    session = await _session(db, series, number, title, starts)
    for member in registrants:
        db.add(Registration(session_id=session.id, member_id=member.id))
    for member in attendees:  # who took part (the board was open while it ran)
        db.add(Attendance(session_id=session.id, member_id=member.id, source="board"))
    for category, question, answer, asker, voters in entries:
        await _answered(db, session, category, question, answer, asker, voters)
    await db.commit()
    await documents.end_session(db, bus, None, session)
    doc = await documents.document_of(db, session.id)
    assert doc is not None
    doc.intro = (
        f"第{number}回（{title}）の質疑をまとめたFAQ資料です。各自治体の事例であり、国の公式見解ではありません。"
    )
    await db.commit()
    await documents.publish(db, publisher, doc, "")
    return doc


async def _live_session(
    db: AsyncSession, bus: InProcessBus, series: StudySeries, members: dict[str, Member], now: dt.datetime
) -> None:
    """The session running now, with open questions on its board."""
    live = await _session(db, series, 3, "職員体制とシステム", now - dt.timedelta(minutes=10))
    db.add(Registration(session_id=live.id, member_id=members["member@example.jp"].id))
    await db.commit()
    for category, body, asker, voters in SESSION_3_OPEN:
        q = await board.ask(db, bus, members[asker], live, body, category)
        for voter in voters:
            await board.vote(db, bus, members[voter], q.id)


async def _topics(db: AsyncSession, series: StudySeries, members: dict[str, Member]) -> None:
    for title, body, author, voters in TOPICS:
        topic = TopicRequest(
            series_id=series.id, author_id=members[author].id, title=title, body=body, votes=len(voters)
        )
        db.add(topic)
        await db.flush()
        for voter in voters:
            db.add(TopicVote(topic_id=topic.id, member_id=members[voter].id))
    await db.commit()


async def _answered(
    db: AsyncSession,
    session: StudySession,
    category: str,
    body: str,
    answer: str,
    asker: Member,
    voters: list[Member],
) -> None:
    q = Question(
        session_id=session.id,
        author_id=asker.id,
        category=category,
        body=body,
        answer=answer,
        status=QuestionStatus.ANSWERED,
        votes=len(voters),
        answered_at=session.starts_at,
    )
    db.add(q)
    await db.flush()
    db.add(QuestionAsker(question_id=q.id, member_id=asker.id))
    for voter in voters:
        db.add(QuestionVote(question_id=q.id, member_id=voter.id))
