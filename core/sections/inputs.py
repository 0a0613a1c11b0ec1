"""課 inputs: one msgspec struct per input, shared by the pages (web/sections.py) and the API (web/sections_api.py).

A form is read once (core.forms.read_form) and converted once with `from_form`; the API decodes into
the same structs. Declared bounds are the hard caps of what any client may send; the product's rules
with their Japanese field errors (a name of 30 characters, a kind from the list, a free name) are the
validate step in core.sections.names / service / founding, which every caller goes through. Unknown
keys are ignored, as the API always did.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from core.bounds import MAX_ID
from core.forms import MAX_FIELD

Text = Annotated[str, msgspec.Meta(max_length=MAX_FIELD)]
Short = Annotated[str, msgspec.Meta(max_length=200)]
#: A section or member id as a form or body gives it; 0 (or anything not a number) is "none chosen".
AnyId = Annotated[int, msgspec.Meta(ge=0, le=MAX_ID)]


def _form_id(raw: str) -> int:
    raw = raw.strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 10 and int(raw) <= MAX_ID else 0


class ProposalInput(msgspec.Struct, kw_only=True):
    """A proposal to found a 課: its name, kind (`type`) and purpose."""

    name: Text = ""
    type: Short = ""
    purpose: Text = ""

    @classmethod
    def from_form(cls, form: dict[str, str]) -> ProposalInput:
        return cls(name=form.get("name", ""), type=form.get("type", "")[:200], purpose=form.get("purpose", ""))


class SectionPageInput(msgspec.Struct, kw_only=True):
    """The 課's page: its description (the form's `description`, the API's `purpose`) and kind; "" keeps the kind."""

    purpose: Text = ""
    type: Short = ""

    @classmethod
    def from_form(cls, form: dict[str, str]) -> SectionPageInput:
        return cls(purpose=form.get("description", ""), type=form.get("type", "")[:200])


class RenameInput(msgspec.Struct, kw_only=True):
    name: Text = ""

    @classmethod
    def from_form(cls, form: dict[str, str]) -> RenameInput:
        return cls(name=form.get("name", ""))


class MergeInput(msgspec.Struct, kw_only=True):
    """Merge this 課 into `into` (the form's `target_id`)."""

    into: AnyId = 0

    @classmethod
    def from_form(cls, form: dict[str, str]) -> MergeInput:
        return cls(into=_form_id(form.get("target_id", "")))


class DeputyInput(msgspec.Struct, kw_only=True):
    """Appoint (`deputy`) or dismiss a deputy; the API names both in the path and the method."""

    member_id: AnyId = 0
    deputy: bool = False

    @classmethod
    def from_form(cls, form: dict[str, str]) -> DeputyInput:
        return cls(member_id=_form_id(form.get("member_id", "")), deputy=form.get("deputy") == "on")
