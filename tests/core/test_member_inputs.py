"""Member inputs: sign-up and profile share one reader and one set of affiliation rules; the operators' inputs."""

from __future__ import annotations

import pytest

from core.errors import Invalid
from core.members.inputs import ProfileInput, ProfilePatch, ReviewInput, RoleInput, SignupInput, StatusInput
from core.members.models import OrgKind, Role, Status
from core.members.profile import validate_profile
from core.members.validation import validate_signup
from core.site_settings import CommunitySettings, SettingsInput

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


def test_one_reader_cuts_short_fields_and_keeps_a_missing_confirmation_none():
    long = {**FORM, "org_kind": "m" * 400, "prefecture": "p" * 400, "interests": "i" * 500}
    signup, profile = SignupInput.from_form(long), ProfileInput.from_form(long)
    assert (len(signup.org_kind), len(signup.prefecture), signup.password_confirm) == (300, 300, None)
    assert (len(profile.org_kind), len(profile.prefecture), profile.interests) == (300, 300, "i" * 500)
    assert SignupInput.from_form({**FORM, "password_confirm": ""}).password_confirm == ""
    assert ProfileInput.from_form({}) == ProfileInput()


def test_operator_inputs_read_forms_and_refuse_in_japanese():
    assert ReviewInput.from_form({"decision": "approve", "reason": "r" * 1200}) == ReviewInput(
        decision="approve", reason="r" * 1000
    )
    assert not ReviewInput.from_form({"decision": "anything"}).approve
    assert RoleInput.from_form({"role": "host"}).validate(actor_id=1, member_id=2) is Role.HOST
    with pytest.raises(Invalid) as bad_role:
        RoleInput.from_form({"role": "emperor"})
    assert (bad_role.value.status, bad_role.value.fields) == (400, {"role": "権限を一覧から選んでください。"})
    with pytest.raises(Invalid) as own:
        RoleInput(role=Role.MEMBER).validate(actor_id=7, member_id=7)
    assert (own.value.code, own.value.message) == ("own_account", "自分自身の権限は変更できません。")
    status = StatusInput.from_form({"status": "suspended", "reason": "規約違反"})
    assert (status.validate(actor_id=1, member_id=2), status.reason) == (Status.SUSPENDED, "規約違反")
    with pytest.raises(Invalid) as bad_status:
        StatusInput.from_form({"status": "rejected"})
    assert bad_status.value.message == "利用状態を一覧から選んでください。"
    with pytest.raises(Invalid) as own_status:
        status.validate(actor_id=3, member_id=3)
    assert own_status.value.message == "自分自身を利用停止にはできません。"


@pytest.mark.parametrize("typed", ["0", "51", "", "abc", "-1", "٣", "1e3", "9" * 300])
def test_settings_input_refuses_what_is_not_a_count_from_1_to_50(typed):
    with pytest.raises(Invalid) as refused:
        SettingsInput.from_form({"founding_supporters": typed}).validate()
    assert refused.value.fields == {"founding_supporters": "賛同者数は1〜50の整数で入力してください。"}


def test_settings_input_takes_full_width_digits_and_the_checkbox():
    typed = SettingsInput.from_form({"founding_supporters": " １２ ", "reapproval_on_change": "on"})
    assert typed.validate() == CommunitySettings(founding_supporters=12, reapproval_on_change=True)
