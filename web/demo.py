"""Realistic Japanese demo data, loaded once on the first start of `make run`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from archive import demo as archive_demo
from core.db import utcnow
from core.members.models import Member, OrgKind, Role, Status
from core.members.service import hash_password, member_row
from core.sections import ProposalSupport, Section, SectionKind, SectionMembership, SectionProposal
from core.sections.names import section_key
from faq import demo as faq_demo
from live.moderation import demo as moderation_demo
from live.schedule import demo as schedule_demo

DEMO_PASSWORD = "chonai-demo-2026"


@dataclass(frozen=True)
class DemoMember:
    email: str
    name: str
    prefecture: str
    organisation: str
    department: str
    role: Role = Role.MEMBER
    status: Status = Status.APPROVED
    org_kind: OrgKind = OrgKind.MUNICIPALITY
    reading: str = ""
    interests: str = ""


DEMO_MEMBERS = [
    DemoMember(
        "operator@example.jp",
        "運営 花子",
        "東京都",
        "Chonai運営事務局",
        "運営チーム",
        Role.OPERATOR,
        reading="うんえい はなこ",
    ),
    DemoMember(
        "moderator@example.jp",
        "見守 健太",
        "神奈川県",
        "横浜市",
        "総務局 しごと改革室",
        Role.MODERATOR,
        reading="みまもり けんた",
    ),
    DemoMember(
        "host@example.jp", "放送 さくら", "北海道", "札幌市", "保健福祉局 保健所", Role.HOST, reading="ほうそう さくら"
    ),
    DemoMember(
        "member@example.jp",
        "市民 一郎",
        "大阪府",
        "豊中市",
        "市民協働部 くらし支援課",
        reading="しみん いちろう",
        interests="公用車の管理と庁内の業務改善",
    ),
    DemoMember(
        "fukuoka@example.jp",
        "博多 美咲",
        "福岡県",
        "福岡市",
        "財政局 財政調整課",
        reading="はかた みさき",
        interests="予算編成と財政分析",
    ),
    DemoMember(
        "naha@example.jp", "比嘉 翔太", "沖縄県", "那覇市", "健康部 ワクチン接種推進室", reading="ひが しょうた"
    ),
    DemoMember("kochi@example.jp", "坂本 涼", "高知県", "四万十町", "総務課 情報政策係", reading="さかもと りょう"),
    DemoMember(
        "mhlw@example.jp",
        "霞 直子",
        "国",
        "厚生労働省",
        "健康局 予防接種課",
        org_kind=OrgKind.MINISTRY,
        reading="かすみ なおこ",
    ),
    DemoMember("pending@example.jp", "申請 太郎", "宮城県", "仙台市", "まちづくり政策局", status=Status.PENDING),
]

DEMO_SECTIONS = [
    ("みんなの財政課", SectionKind.WORK, "予算・決算・財政分析を全国の財政担当で学び合う課", "fukuoka@example.jp"),
    ("法規課", SectionKind.WORK, "例規審査や条例づくりの悩みを共有する課", "moderator@example.jp"),
    ("ワクチン接種情報交換課", SectionKind.WORK, "予防接種の体制づくりを自治体同士で情報交換する課", "naha@example.jp"),
    ("動画課", SectionKind.SKILL, "広報動画の企画・撮影・編集スキルを磨く課", "host@example.jp"),
    ("公務員ランナー課", SectionKind.HOBBY, "走ることが好きな公務員のサークル", "kochi@example.jp"),
]


#: Members of each demo 課 besides its 課長 (deputies marked with *), and an open founding proposal.
DEMO_MEMBERSHIPS = {
    "みんなの財政課": ["*member@example.jp", "kochi@example.jp", "operator@example.jp"],
    "法規課": ["member@example.jp", "fukuoka@example.jp"],
    "ワクチン接種情報交換課": ["*mhlw@example.jp", "host@example.jp", "moderator@example.jp", "kochi@example.jp"],
    "動画課": ["moderator@example.jp", "naha@example.jp"],
    "公務員ランナー課": ["fukuoka@example.jp", "member@example.jp"],
}
DEMO_PROPOSAL = (
    "庁内DX推進課",
    SectionKind.SKILL,
    "RPAやノーコードツールで庁内の定型業務を減らした事例を持ち寄り、小さく始めるコツを共有します。",
    "kochi@example.jp",
    ["member@example.jp", "naha@example.jp"],
)


async def _demo_memberships(db: AsyncSession, by_email: dict[str, Member], sections: dict[str, Section]) -> None:
    for name, section in sections.items():
        assert section.leader_id is not None
        db.add(SectionMembership(section_id=section.id, member_id=section.leader_id))
        for entry in DEMO_MEMBERSHIPS.get(name, []):
            member = by_email[entry.lstrip("*")]
            db.add(SectionMembership(section_id=section.id, member_id=member.id, deputy=entry.startswith("*")))
    name, kind, purpose, founder, supporters = DEMO_PROPOSAL
    proposal = SectionProposal(
        name=name, open_key=section_key(name), kind=kind, purpose=purpose, founder_id=by_email[founder].id
    )
    db.add(proposal)
    await db.flush()
    for email in supporters:
        db.add(ProposalSupport(proposal_id=proposal.id, member_id=by_email[email].id))


async def is_empty(db: AsyncSession) -> bool:
    return int((await db.execute(select(func.count()).select_from(Member))).scalar_one()) == 0


async def load_demo(db: AsyncSession) -> list[DemoMember]:
    """Insert demo members and sections; callers check `is_empty` first so this runs once."""
    password_hash = await hash_password(DEMO_PASSWORD)
    by_email: dict[str, Member] = {}
    for d in DEMO_MEMBERS:
        reviewed_at = utcnow() if d.status is Status.APPROVED else None
        member = member_row(
            d, password_hash, d.role, d.status, reviewed_at=reviewed_at, reading=d.reading, interests=d.interests
        )
        db.add(member)
        by_email[d.email] = member
    await db.flush()
    sections = {}
    for name, kind, description, leader in DEMO_SECTIONS:
        sections[name] = Section(name=name, kind=kind, description=description, leader_id=by_email[leader].id)
        db.add(sections[name])
    await db.flush()
    await _demo_memberships(db, by_email, sections)
    await db.commit()
    # Each domain adds its own demo content on top of the members and sections.
    for load in DOMAIN_DEMOS:
        await load(db, by_email, sections)
    from web.search_index import rebuild  # demo rows are bulk-inserted: index them once at the end

    await rebuild(db)
    return DEMO_MEMBERS


#: `async def load(db, members_by_email, sections_by_name)` of each domain, in dependency order.
DOMAIN_DEMOS: list[Callable[[AsyncSession, dict[str, Member], dict[str, Section]], Awaitable[None]]] = []
DOMAIN_DEMOS.append(schedule_demo.load)
DOMAIN_DEMOS.append(moderation_demo.load)
DOMAIN_DEMOS.append(archive_demo.load)
DOMAIN_DEMOS.append(faq_demo.load)
