"""課: the shared choice lists, membership (join, leave, deputies) and what 課長 and operators change."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from core.db import save_unique
from core.errors import Conflict, Forbidden, Invalid, found
from core.members.models import Member, Role, Status
from core.sections.models import Section, SectionKind, SectionMembership, SectionProposal, SectionStatus
from core.sections.names import check_name, check_purpose, section_key

#: Columns of other domains that name an owning 課 (programs, study series); merging moves them.
OWNER_COLUMNS: list[InstrumentedAttribute[int | None] | Column[int]] = []


def register_owner_column(column: InstrumentedAttribute[int | None]) -> None:
    """`web` registers each domain's `section_id` column once at start-up."""
    if column not in OWNER_COLUMNS:
        OWNER_COLUMNS.append(column)


#: 仕事直結型, 共通スキル育成型, 趣味・サークル型 — the order the community lists them in.
KIND_ORDER = case({k: i for i, k in enumerate(SectionKind)}, value=Section.kind)


@dataclass(frozen=True, slots=True)
class SectionSummary:
    section: Section
    member_count: int


async def section_choices(db: AsyncSession) -> list[Section]:
    """The one list every 課 filter offers: active 課 by type, then name."""
    query = select(Section).where(Section.status == SectionStatus.ACTIVE).order_by(KIND_ORDER, Section.name)
    return list((await db.execute(query)).unique().scalars())


async def owner_choices(db: AsyncSession, member: Member) -> list[Section]:
    """The 課 a member may make something for: the ones they belong to; operators: all active 課."""
    if member.has_role(Role.OPERATOR):
        return await section_choices(db)
    query = (
        select(Section)
        .join(SectionMembership, SectionMembership.section_id == Section.id)
        .where(SectionMembership.member_id == member.id, Section.status == SectionStatus.ACTIVE)
        .order_by(KIND_ORDER, Section.name)
    )
    return list((await db.execute(query)).unique().scalars())


async def check_owner(db: AsyncSession, member: Member, section_id: int | None, field: str = "section_id") -> None:
    """Refuse a 課 the member may not choose as owner (a field error, nothing written)."""
    if section_id is None:
        return
    if section_id not in {s.id for s in await owner_choices(db, member)}:
        raise Invalid("課の指定を確認してください。", fields={field: "所属している課から選んでください。"})


async def member_counts(db: AsyncSession, section_ids: list[int] | None = None) -> dict[int, int]:
    query = select(SectionMembership.section_id, func.count()).group_by(SectionMembership.section_id)
    query = query.join(Member, Member.id == SectionMembership.member_id).where(Member.status == Status.APPROVED)
    if section_ids is not None:
        query = query.where(SectionMembership.section_id.in_(section_ids))
    return {int(k): int(v) for k, v in (await db.execute(query)).all()}


async def list_sections(db: AsyncSession, q: str = "", kind: SectionKind | None = None) -> list[SectionSummary]:
    """Active 課 with their member counts; `q` matches name and purpose (width and case folded)."""
    sections = await section_choices(db)
    if kind is not None:
        sections = [s for s in sections if s.kind is kind]
    key = section_key(q)
    if key:
        sections = [s for s in sections if key in s.name_key or key in section_key(s.description)]
    counts = await member_counts(db, [s.id for s in sections])
    return [SectionSummary(s, counts.get(s.id, 0)) for s in sections]


async def get_section(db: AsyncSession, section_id: int) -> Section:
    # populate_existing: a 課 founded or changed in this session is re-read with its 課長.
    return found(await db.get(Section, section_id, populate_existing=True), "該当する課が見つかりません。")


async def memberships(db: AsyncSession, section_id: int) -> list[SectionMembership]:
    """Approved members of a 課: deputies first, then by joining date."""
    query = (
        select(SectionMembership)
        .join(Member, Member.id == SectionMembership.member_id)
        .where(SectionMembership.section_id == section_id, Member.status == Status.APPROVED)
        .order_by(SectionMembership.deputy.desc(), SectionMembership.joined_at, Member.id)
    )
    return list((await db.execute(query)).unique().scalars())


async def sections_of(db: AsyncSession, member_id: int) -> list[Section]:
    query = (
        select(Section)
        .join(SectionMembership, SectionMembership.section_id == Section.id)
        .where(SectionMembership.member_id == member_id, Section.status == SectionStatus.ACTIVE)
        .order_by(KIND_ORDER, Section.name)
    )
    return list((await db.execute(query)).unique().scalars())


async def membership(db: AsyncSession, section_id: int, member_id: int) -> SectionMembership | None:
    return await db.get(SectionMembership, (section_id, member_id))


def can_manage(member: Member, section: Section) -> bool:
    """The 課長 edits the page and appoints deputies; operators may too."""
    return member.has_role(Role.OPERATOR) or (member.is_active and section.leader_id == member.id)


def _require_active(section: Section) -> None:
    if not section.is_active:
        raise Conflict(f"この課は{section.status.label}のため変更できません。", code="section_inactive")


async def join(db: AsyncSession, member: Member, section_id: int) -> Section:
    section = await get_section(db, section_id)
    _require_active(section)
    if await membership(db, section_id, member.id) is not None:
        raise Conflict("既にこの課のメンバーです。", code="already_member")
    db.add(SectionMembership(section_id=section_id, member_id=member.id))
    # Refused if a double click raced this one.
    await save_unique(db, Conflict("既にこの課のメンバーです。", code="already_member"))
    return section


async def leave(db: AsyncSession, member: Member, section_id: int) -> Section:
    section = await get_section(db, section_id)
    if section.leader_id == member.id:
        raise Conflict("課長は課を抜けられません。先に運営に課長の交代を依頼してください。", code="chief_cannot_leave")
    row = await membership(db, section_id, member.id)
    if row is None:
        raise Conflict("この課のメンバーではありません。", code="not_member")
    await db.delete(row)
    await db.commit()
    return section


async def update_page(db: AsyncSession, actor: Member, section_id: int, *, description: str, kind: str) -> Section:
    section = await get_section(db, section_id)
    if not can_manage(actor, section):
        raise Forbidden("課のページを編集できるのは課長と運営です。")
    _require_active(section)
    purpose, problem = check_purpose(description)
    errors = {"description": problem} if problem else {}
    if kind not in {k.value for k in SectionKind}:
        errors["kind"] = "課の種類を一覧から選んでください。"
    if errors:
        raise Invalid("入力内容を確認してください。", fields=errors)
    section.description, section.kind = purpose, SectionKind(kind)
    await db.commit()
    return section


async def set_deputy(db: AsyncSession, actor: Member, section_id: int, member_id: int, deputy: bool) -> Section:
    section = await get_section(db, section_id)
    if not can_manage(actor, section):
        raise Forbidden("副課長を任命できるのは課長と運営です。")
    _require_active(section)
    row = await membership(db, section_id, member_id)
    if row is None:
        raise Invalid(
            "副課長はこの課のメンバーから選んでください。", fields={"member_id": "この課のメンバーではありません。"}
        )
    if member_id == section.leader_id:
        raise Invalid("課長は副課長を兼ねられません。", fields={"member_id": "課長は副課長を兼ねられません。"})
    row.deputy = deputy
    await db.commit()
    return section


async def _check_free_name(db: AsyncSession, name: str, exclude_id: int | None = None) -> str:
    clean, problem = check_name(name)
    if problem:
        raise Invalid(problem, fields={"name": problem})
    query = select(Section.id).where(Section.name_key == section_key(clean))
    if exclude_id is not None:
        query = query.where(Section.id != exclude_id)
    proposed = select(SectionProposal.id).where(SectionProposal.open_key == section_key(clean))
    if (await db.execute(query)).first() is not None or (await db.execute(proposed)).first() is not None:
        raise Invalid("同じ名前の課が既にあります。", fields={"name": "同じ名前の課か設立提案が既にあります。"})
    return clean


async def rename(db: AsyncSession, operator: Member, section_id: int, name: str) -> Section:
    _require_operator(operator)
    section = await get_section(db, section_id)
    section.name = await _check_free_name(db, name, exclude_id=section.id)
    await save_unique(db, Invalid("同じ名前の課が既にあります。", fields={"name": "同じ名前の課が既にあります。"}))
    return section


async def archive(db: AsyncSession, operator: Member, section_id: int) -> Section:
    _require_operator(operator)
    section = await get_section(db, section_id)
    _require_active(section)
    section.status = SectionStatus.ARCHIVED
    await db.commit()
    return section


async def merge(db: AsyncSession, operator: Member, source_id: int, target_id: int) -> Section:
    """Fold `source` into `target`: members, programs and series move; the source stays as 統合済み."""
    _require_operator(operator)
    if source_id == target_id:
        raise Invalid("統合先には別の課を選んでください。", fields={"target_id": "統合先には別の課を選んでください。"})
    source, target = await get_section(db, source_id), await get_section(db, target_id)
    _require_active(source)
    _require_active(target)
    existing = set(
        (
            await db.execute(select(SectionMembership.member_id).where(SectionMembership.section_id == target_id))
        ).scalars()
    )
    for row in await _all_memberships(db, source_id):
        if row.member_id not in existing:
            db.add(SectionMembership(section_id=target_id, member_id=row.member_id, joined_at=row.joined_at))
        await db.delete(row)
    for column in OWNER_COLUMNS:
        await db.execute(update(column.class_).where(column == source_id).values({column.key: target_id}))
    source.status, source.merged_into_id = SectionStatus.MERGED, target_id
    await db.commit()
    return target


async def _all_memberships(db: AsyncSession, section_id: int) -> list[SectionMembership]:
    query = select(SectionMembership).where(SectionMembership.section_id == section_id)
    return list((await db.execute(query)).unique().scalars())


def _require_operator(member: Member) -> None:
    if not member.has_role(Role.OPERATOR):
        raise Forbidden("この操作は運営のみが行えます。")
