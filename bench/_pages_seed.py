"""The scratch database of `chonai bench pages`: the demo, plus the volume a busy city hall has.

On top of `web.demo.load_demo` (demo members, the weekday schedule, the live demo broadcast,
two archived broadcasts, the FAQ series and its documents, the search index) it adds
`members` approved members who log in with BENCH_PASSWORD, `archive` more ended broadcasts
with `chat` comments each, and `documents` more published FAQ documents with `entries`
entries each (the Q&A text of bench/search.py), then rebuilds the search index.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from bench.search import generate_entries, query_mix
from core.db import Database, utcnow
from core.members.models import Member, OrgKind, Role, Status
from core.members.service import hash_password
from core.timefmt import JST

BENCH_PASSWORD = "chonai-bench-2026"
PLACES = [
    ("北海道", "旭川市"),
    ("青森県", "八戸市"),
    ("岩手県", "盛岡市"),
    ("宮城県", "石巻市"),
    ("福島県", "郡山市"),
    ("茨城県", "つくば市"),
    ("埼玉県", "川越市"),
    ("千葉県", "船橋市"),
    ("東京都", "八王子市"),
    ("神奈川県", "藤沢市"),
    ("新潟県", "長岡市"),
    ("長野県", "松本市"),
    ("静岡県", "浜松市"),
    ("愛知県", "豊田市"),
    ("京都府", "宇治市"),
    ("兵庫県", "姫路市"),
    ("岡山県", "倉敷市"),
    ("広島県", "福山市"),
    ("愛媛県", "松山市"),
    ("熊本県", "八代市"),
    ("鹿児島県", "霧島市"),
]
DEPARTMENTS = ["総務課", "企画政策課", "健康推進課", "子育て支援課", "財政課", "情報政策課", "市民課", "防災危機管理課"]
SURNAMES = ["佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田", "山田"]
GIVEN = ["翔", "陽菜", "蓮", "結衣", "大和", "美咲", "悠真", "葵", "湊", "凛"]


@dataclass
class Seeded:
    """What the load generator needs to know about the scratch database."""

    emails: list[str]
    live_id: int
    archive_ids: list[int]
    document_ids: list[int]
    queries: list[str]
    counts: dict[str, int] = field(default_factory=dict)


def _bench_members(n: int, password_hash: str) -> list[Member]:
    out = []
    for i in range(n):
        prefecture, city = PLACES[i % len(PLACES)]
        out.append(
            Member(
                email=f"bench-{i}@example.jp",
                name=f"{SURNAMES[i % len(SURNAMES)]} {GIVEN[(i // len(SURNAMES)) % len(GIVEN)]}{i}",
                org_kind=OrgKind.MUNICIPALITY,
                organisation=city,
                department=DEPARTMENTS[i % len(DEPARTMENTS)],
                prefecture=prefecture,
                password_hash=password_hash,
                role=Role.MEMBER,
                status=Status.APPROVED,
                reviewed_at=utcnow(),
            )
        )
    return out


def _chat(rng: random.Random, texts: list[str], authors: list[Member], n: int) -> list[tuple[int, Member, str]]:
    """n comments over a 30-minute broadcast, each one or two sentences of real-looking Q&A."""
    seconds = sorted(rng.randrange(0, 1800) for _ in range(n))
    return [(s, rng.choice(authors), rng.choice(texts)[:200]) for s in seconds]


async def _archive(db: Any, rng: random.Random, people: list[Member], count: int, chat: int) -> None:
    from archive.demo import past_broadcast
    from live.public import Program

    program = (await db.execute(select(Program).where(Program.rotation != "").limit(1))).unique().scalar_one_or_none()
    texts = [
        sentence + "。" for _, q, a in generate_entries(400, seed=3) for sentence in (q + a).split("。") if sentence
    ]
    today = utcnow().astimezone(JST).date()
    for k in range(count):
        day = today - dt.timedelta(days=21 + k)  # older than the demo's own two weeks
        start = dt.datetime.combine(day, dt.time(12, 10), tzinfo=JST).astimezone(dt.UTC)
        subject = texts[k % len(texts)][:30]
        await past_broadcast(
            db,
            program,
            f"お昼の庁内放送 ― 第{count - k}回 {subject}",
            "日替わりのパーソナリティが全国の自治体の「いま」をお届けします。" + subject,
            start,
            people[k % len(people)],
            f"https://www.youtube.com/watch?v=bench{k:06d}",
            _chat(rng, texts, people, chat),
            people,
        )
        await db.commit()


async def _documents(
    db: Any, rng: random.Random, people: list[Member], count: int, entries: int
) -> list[tuple[str, str, str]]:
    """`count` more published documents of the demo series; returns their (category, question, answer)."""
    from core.events import InProcessBus
    from faq.demo import SERIES_TITLE, published_session
    from faq.models import StudySeries

    series = (await db.execute(select(StudySeries).where(StudySeries.title == SERIES_TITLE))).unique().scalar_one()
    organiser = (await db.execute(select(Member).where(Member.email == "naha@example.jp"))).scalar_one()
    bus = InProcessBus()
    generated = list(generate_entries(count * entries, seed=17))
    for k in range(count):
        rows = [
            (category, q, a, rng.choice(people), rng.sample(people, min(len(people), rng.randint(0, 5))))
            for category, q, a in generated[k * entries : (k + 1) * entries]
        ]
        starts = utcnow() - dt.timedelta(days=42 + 14 * k)
        number = 4 + k  # after the demo's three sessions
        title = f"事例共有 第{k + 1}部"
        await published_session(db, bus, series, number, title, starts, rows, people[:20], people[:15], organiser)
    return generated


async def seed(url: str, members: int, archive: int, chat: int, documents: int, entries: int) -> Seeded:
    from faq.models import FaqDocument
    from live.moderation.demo import DEMO_LIVE_TITLE
    from live.public import Broadcast, BroadcastState
    from web.demo import load_demo
    from web.search_index import rebuild

    db = Database(url, pool_size=2, command_timeout=None)  # a bulk load: no statement timeout
    rng = random.Random(5)
    try:
        async with db.session() as s:
            await load_demo(s)
            people = _bench_members(members, await hash_password(BENCH_PASSWORD))
            s.add_all(people)
            await s.commit()
            await _archive(s, rng, people, archive, chat)
            generated = await _documents(s, rng, people, documents, entries)
            counts = await rebuild(s)
            live = (await s.execute(select(Broadcast.id).where(Broadcast.title == DEMO_LIVE_TITLE))).scalar_one()
            ended = select(Broadcast.id).where(Broadcast.state == BroadcastState.ENDED).order_by(Broadcast.id)
            every_archive = [int(i) for i in (await s.execute(ended)).scalars()]
            published = select(FaqDocument.id).where(FaqDocument.current_version > 0).order_by(FaqDocument.id)
            every_document = [int(i) for i in (await s.execute(published)).scalars()]
        queries = [q for _, q in query_mix(generated, 60)] + ["ワクチン接種 予約", "接種券の再発行", "窓口DX"]
        return Seeded(
            emails=[p.email for p in people],
            live_id=int(live),
            archive_ids=every_archive,
            document_ids=every_document,
            queries=queries,
            counts={"members": members, "archived_broadcasts": len(every_archive), "documents": len(every_document)}
            | {f"indexed_{kind}": n for kind, n in counts.items()},
        )
    finally:
        await db.dispose()
