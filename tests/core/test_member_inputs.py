"""Member inputs: sign-up and profile share one struct per input and one set of affiliation rules."""

from __future__ import annotations

import pytest

from core.errors import Invalid
from core.members.inputs import ProfileInput, ProfilePatch, SignupInput
from core.members.models import OrgKind
from core.members.profile import validate_profile
from core.members.validation import validate_signup

FORM = {
    "name": "豊中 花子",
    "org_kind": "municipality",
    "organisation": "豊中市",
    "department": "広報課",
    "prefecture": "大阪府",
    "email": "Hanako@Example.JP",
    "password": "correct-horse-battery-9",
}


def test_signup_form_and_cli_become_the_same_data():
    from_form, errors = validate_signup(SignupInput.from_form({**FORM, "password_confirm": FORM["password"]}))
    from_cli, _ = validate_signup(SignupInput(**FORM))  # the CLI asks no confirmation
    assert errors == {} and from_form == from_cli
    assert from_form is not None and (from_form.email, from_form.org_kind) == (
        "hanako@example.jp",
        OrgKind.MUNICIPALITY,
    )
    _, errors = validate_signup(SignupInput.from_form({**FORM, "password_confirm": "other-password-0"}))
    assert errors == {"password_confirm": "確認用パスワードが一致しません。"}


def test_signup_and_profile_refuse_the_same_affiliation_in_the_same_words():
    bad = {"name": "<b>", "org_kind": "company", "organisation": "", "department": "課", "prefecture": "国"}
    _, signup_errors = validate_signup(SignupInput.from_form({**FORM, **bad}))
    with pytest.raises(Invalid) as refused:
        validate_profile(ProfileInput.from_form({**FORM, **bad}))
    expected = {
        "name": "氏名に < や > は使えません。",
        "organisation": "所属団体名を入力してください。",
        "org_kind": "所属の種別（自治体または省庁）を選んでください。",
    }
    assert signup_errors == expected and refused.value.fields == expected
    _, errors = validate_signup(SignupInput.from_form({**FORM, "prefecture": "国"}))
    assert errors == {"prefecture": "自治体の方は所在する都道府県を選んでください。"}


def test_a_patch_changes_only_what_it_names():
    current = ProfileInput.from_form(FORM)
    patch = ProfilePatch(department="情報政策課", email="new@example.jp")
    assert patch.profile_changes() == {"department": "情報政策課"}
    assert patch.applied_to(current) == ProfileInput.from_form({**FORM, "department": "情報政策課"})
    assert validate_profile(patch.applied_to(current)).department == "情報政策課"
