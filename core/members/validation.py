"""Sign-up and profile rules, with one Japanese message per field."""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.members.inputs import ProfileInput, SignupInput
from core.members.models import OrgKind
from core.members.prefectures import PREFECTURES
from core.text import clean_line

EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
PASSWORD_MIN = 10
PASSWORD_MAX = 200
_HTMLISH = re.compile(r"[<>]")

FieldErrors = dict[str, str]


@dataclass(frozen=True, slots=True)
class SignupData:
    name: str
    org_kind: OrgKind
    organisation: str
    department: str
    prefecture: str
    email: str
    password: str


def normalise_email(raw: str) -> str:
    return clean_line(raw).lower()


def check_email(raw: str) -> tuple[str, str | None]:
    email = normalise_email(raw)
    if not email:
        return email, "メールアドレスを入力してください。"
    if len(email) > 254 or not EMAIL_RE.match(email):
        return email, "メールアドレスの形式が正しくありません。"
    return email, None


def check_password(password: str) -> str | None:
    if not password:
        return "パスワードを入力してください。"
    if len(password) < PASSWORD_MIN:
        return f"パスワードは{PASSWORD_MIN}文字以上にしてください。"
    if len(password) > PASSWORD_MAX:
        return f"パスワードは{PASSWORD_MAX}文字以内にしてください。"
    return None


def _text(value: str, key: str, label: str, limit: int, errors: FieldErrors) -> str:
    value = clean_line(value)
    if not value:
        errors[key] = f"{label}を入力してください。"
    elif len(value) > limit:
        errors[key] = f"{label}は{limit}文字以内で入力してください。"
    elif _HTMLISH.search(value):
        errors[key] = f"{label}に < や > は使えません。"
    return value


@dataclass(frozen=True, slots=True)
class Affiliation:
    name: str
    org_kind: OrgKind | None
    organisation: str
    department: str
    prefecture: str


def check_affiliation(data: SignupInput | ProfileInput, errors: FieldErrors) -> Affiliation:
    """Name, kind of organisation, organisation, department and prefecture: the rules sign-up and profile share."""
    name = _text(data.name, "name", "氏名", 50, errors)
    organisation = _text(data.organisation, "organisation", "所属団体名", 60, errors)
    department = _text(data.department, "department", "部署名", 60, errors)
    org_kind = OrgKind(data.org_kind) if data.org_kind in {k.value for k in OrgKind} else None
    if org_kind is None:
        errors["org_kind"] = "所属の種別（自治体または省庁）を選んでください。"
    if data.prefecture not in PREFECTURES:
        errors["prefecture"] = "都道府県を一覧から選んでください。"
    elif org_kind is OrgKind.MUNICIPALITY and data.prefecture == "国":
        errors["prefecture"] = "自治体の方は所在する都道府県を選んでください。"
    return Affiliation(name, org_kind, organisation, department, data.prefecture)


def validate_signup(data: SignupInput) -> tuple[SignupData | None, FieldErrors]:
    """The validate step of a SignupInput: clean data, or None with a message for every bad field."""
    errors: FieldErrors = {}
    who = check_affiliation(data, errors)
    email, email_error = check_email(data.email)
    if email_error:
        errors["email"] = email_error
    password_error = check_password(data.password)
    if password_error:
        errors["password"] = password_error
    elif data.password_confirm is not None and data.password_confirm != data.password:
        errors["password_confirm"] = "確認用パスワードが一致しません。"
    if errors or who.org_kind is None:
        return None, errors
    return SignupData(
        who.name, who.org_kind, who.organisation, who.department, who.prefecture, email, data.password
    ), errors
