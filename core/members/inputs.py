"""Member inputs: sign-up, the profile, PATCH /api/me and the operators' review, role and status changes.

One msgspec struct per input, shared by form, API and CLI. A form is read once (core.forms.read_form)
and converted once with `from_form`; the JSON API decodes into the same structs. Declared bounds are
the hard caps of what any client may send (a form's longer value is cut to them, as the browser's
maxlength would); the product's rules with one Japanese message per field are the validate step in
core.members.validation (`validate_signup`), core.members.profile (`validate_profile`) and the
operator inputs' `validate` (an operator never changes their own role or status).
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

import msgspec

from core.errors import Invalid
from core.forms import MAX_FIELD
from core.members.models import Member, Role, Status

SHORT_MAX = 300
REASON_MAX = 1000
Text = Annotated[str, msgspec.Meta(max_length=MAX_FIELD)]
Short = Annotated[str, msgspec.Meta(max_length=SHORT_MAX)]
Reason = Annotated[str, msgspec.Meta(max_length=REASON_MAX)]

PROFILE_FIELDS = ("name", "reading", "org_kind", "organisation", "department", "prefecture", "interests")
#: Fields declared `Short`; every other text field is `Text` (read_form already cut it to MAX_FIELD).
_SHORT_FIELDS = frozenset({"org_kind", "prefecture"})

S = TypeVar("S", bound=msgspec.Struct)


def _text_fields(cls: type[S], form: dict[str, str]) -> S:
    """The shared reader of the sign-up and profile forms: each field of `cls` from the form, cut to its cap.

    A field whose default is None (sign-up's `password_confirm`) stays None when the form lacks it.
    """
    values: dict[str, str | None] = {}
    for field in msgspec.structs.fields(cls):
        raw = form.get(field.name, None if field.default is None else "")
        values[field.name] = None if raw is None else raw[: SHORT_MAX if field.name in _SHORT_FIELDS else MAX_FIELD]
    return cls(**values)


class _MemberForm(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What the sign-up and profile forms both ask: who the member is and where they work."""

    name: Text = ""
    org_kind: Short = ""
    organisation: Text = ""
    department: Text = ""
    prefecture: Short = ""

    @classmethod
    def from_form(cls: type[S], form: dict[str, str]) -> S:
        return _text_fields(cls, form)


class SignupInput(_MemberForm, forbid_unknown_fields=True, kw_only=True):
    """/signup and `chonai create-operator`; `password_confirm` None: not asked (the CLI)."""

    email: Text = ""
    password: Text = ""
    password_confirm: Text | None = None


class ProfileInput(_MemberForm, forbid_unknown_fields=True, kw_only=True):
    """The whole profile as /profile/edit posts it (and as PATCH /api/me ends up once merged)."""

    reading: Text = ""
    interests: Text = ""

    @classmethod
    def of(cls, member: Member) -> ProfileInput:
        values = {f: str(getattr(member, f)) for f in PROFILE_FIELDS}
        return cls(**{**values, "org_kind": member.org_kind.value})

    def values(self) -> dict[str, str]:
        """As the form re-shows them."""
        return {f: getattr(self, f) for f in PROFILE_FIELDS}


class ProfilePatch(msgspec.Struct, omit_defaults=True):
    """PATCH /api/me and /api/members/{id}: what it names changes, what it omits stays."""

    name: Text | None = None
    reading: Text | None = None
    org_kind: Short | None = None
    organisation: Text | None = None
    department: Text | None = None
    prefecture: Short | None = None
    interests: Text | None = None
    email: Text | None = None

    def profile_changes(self) -> dict[str, str]:
        return {f: v for f in PROFILE_FIELDS if (v := getattr(self, f)) is not None}

    def applied_to(self, current: ProfileInput) -> ProfileInput:
        return msgspec.structs.replace(current, **self.profile_changes())


# --- the operators' inputs (/admin/members and /api/members) ---------------------------------


def _not_oneself(actor_id: int, member_id: int, message: str) -> None:
    if actor_id == member_id:
        raise Invalid(message, code="own_account")


class ReviewInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A sign-up review: the form posts `decision`; the API's /approve and /reject say it in the path (body: `reason`).

    A rejection needs a reason: core.members.service.review checks that after the state (already reviewed?).
    """

    decision: Literal["approve", "reject"] = "reject"
    reason: Reason = ""

    @classmethod
    def from_form(cls, form: dict[str, str]) -> ReviewInput:
        """Anything but `approve` rejects, as the page's two forms only send these two."""
        return cls(decision="approve" if form.get("decision") == "approve" else "reject", reason=_reason(form))

    @property
    def approve(self) -> bool:
        return self.decision == "approve"


class RoleInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A member's site-wide role: /admin/members/{id}/role and POST /api/members/{id}/role."""

    role: Role

    @classmethod
    def from_form(cls, form: dict[str, str]) -> RoleInput:
        try:
            return cls(role=Role(form.get("role", "")))
        except ValueError:
            raise Invalid("権限を一覧から選んでください。", fields={"role": "権限を一覧から選んでください。"}) from None

    def validate(self, actor_id: int, member_id: int) -> Role:
        _not_oneself(actor_id, member_id, "自分自身の権限は変更できません。")
        return self.role


class StatusInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Suspend a member or let them back in (/admin/members/{id}/status), with an optional reason."""

    status: Literal["approved", "suspended"]
    reason: Reason = ""

    @classmethod
    def from_form(cls, form: dict[str, str]) -> StatusInput:
        raw = form.get("status", "")
        if raw not in ("approved", "suspended"):
            raise Invalid("利用状態を一覧から選んでください。", fields={"status": "利用状態を一覧から選んでください。"})
        return cls(status="approved" if raw == "approved" else "suspended", reason=_reason(form))

    def validate(self, actor_id: int, member_id: int) -> Status:
        _not_oneself(actor_id, member_id, "自分自身を利用停止にはできません。")
        return Status(self.status)


def _reason(form: dict[str, str]) -> str:
    return form.get("reason", "")[:REASON_MAX]
