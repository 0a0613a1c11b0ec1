"""Member inputs: sign-up, the profile form and PATCH /api/me, as msgspec structs shared by form, API and CLI.

A form is read once (core.forms.read_form) and converted once with `from_form`; the JSON API decodes
into the same structs. Declared bounds are the hard caps of what any client may send; the product's
rules with one Japanese message per field are the validate step in core.members.validation
(`validate_signup`) and core.members.profile (`validate_profile`).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from core.forms import MAX_FIELD
from core.members.models import Member

Text = Annotated[str, msgspec.Meta(max_length=MAX_FIELD)]
Short = Annotated[str, msgspec.Meta(max_length=300)]

PROFILE_FIELDS = ("name", "reading", "org_kind", "organisation", "department", "prefecture", "interests")


class SignupInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """/signup and `chonai create-operator`; `password_confirm` None: not asked (the CLI)."""

    name: Text = ""
    org_kind: Short = ""
    organisation: Text = ""
    department: Text = ""
    prefecture: Short = ""
    email: Text = ""
    password: Text = ""
    password_confirm: Text | None = None

    @classmethod
    def from_form(cls, form: dict[str, str]) -> SignupInput:
        return cls(
            name=form.get("name", ""),
            org_kind=form.get("org_kind", "")[:300],
            organisation=form.get("organisation", ""),
            department=form.get("department", ""),
            prefecture=form.get("prefecture", "")[:300],
            email=form.get("email", ""),
            password=form.get("password", ""),
            password_confirm=form.get("password_confirm"),
        )


class ProfileInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The whole profile as /profile/edit posts it (and as PATCH /api/me ends up once merged)."""

    name: Text = ""
    reading: Text = ""
    org_kind: Short = ""
    organisation: Text = ""
    department: Text = ""
    prefecture: Short = ""
    interests: Text = ""

    @classmethod
    def from_form(cls, form: dict[str, str]) -> ProfileInput:
        return cls(
            **{f: form.get(f, "")[: 300 if f in ("org_kind", "prefecture") else MAX_FIELD] for f in PROFILE_FIELDS}
        )

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
