"""Operator settings kept in the database (changed on /admin/settings, read by every process)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Annotated

import msgspec
from sqlalchemy import String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.errors import Invalid

FOUNDING_SUPPORTERS = "founding_supporters"
REAPPROVAL_ON_CHANGE = "reapproval_on_change"
FOUNDING_MIN, FOUNDING_MAX = 1, 50


class SiteSetting(Base):
    __tablename__ = "site_settings"

    key: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


@dataclass(frozen=True, slots=True)
class CommunitySettings:
    #: Supporters besides the founder that found a proposed 課.
    founding_supporters: int = 5
    #: A member whose name or organisation changes goes back to 承認待ち until an operator approves.
    reapproval_on_change: bool = False


async def load(db: AsyncSession) -> CommunitySettings:
    rows = {str(k): str(v) for k, v in (await db.execute(select(SiteSetting.key, SiteSetting.value))).all()}
    default = CommunitySettings()
    supporters = rows.get(FOUNDING_SUPPORTERS, "")
    return CommunitySettings(
        founding_supporters=int(supporters) if supporters.isdigit() else default.founding_supporters,
        reapproval_on_change=rows[REAPPROVAL_ON_CHANGE] == "true"
        if REAPPROVAL_ON_CHANGE in rows
        else default.reapproval_on_change,
    )


class SettingsInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The /admin/settings form: the supporters' number as typed, and the re-approval checkbox."""

    founding_supporters: Annotated[str, msgspec.Meta(max_length=200)] = ""
    reapproval_on_change: bool = False

    @classmethod
    def from_form(cls, form: dict[str, str]) -> SettingsInput:
        return cls(
            founding_supporters=form.get(FOUNDING_SUPPORTERS, "")[:200],
            reapproval_on_change=form.get(REAPPROVAL_ON_CHANGE, "") in {"on", "true", "1"},
        )

    def validate(self) -> CommunitySettings:
        """Japanese field errors for anything out of range (全角 digits count; other scripts' digits do not)."""
        raw = unicodedata.normalize("NFKC", self.founding_supporters).strip()
        if not (raw.isascii() and raw.isdigit()) or not FOUNDING_MIN <= int(raw) <= FOUNDING_MAX:
            raise Invalid(
                "設定の内容を確認してください。",
                fields={FOUNDING_SUPPORTERS: f"賛同者数は{FOUNDING_MIN}〜{FOUNDING_MAX}の整数で入力してください。"},
            )
        return CommunitySettings(int(raw), self.reapproval_on_change)


async def save(db: AsyncSession, value: CommunitySettings) -> None:
    for key, text in (
        (FOUNDING_SUPPORTERS, str(value.founding_supporters)),
        (REAPPROVAL_ON_CHANGE, "true" if value.reapproval_on_change else "false"),
    ):
        row = await db.get(SiteSetting, key)
        if row is None:
            db.add(SiteSetting(key=key, value=text))
        else:
            row.value = text
    await db.commit()
