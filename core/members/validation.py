"""Sign-up and profile rules, with one Japanese message per field."""

from __future__ import annotations

import re
from dataclasses import dataclass

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


def _text(form: dict[str, str], key: str, label: str, limit: int, errors: FieldErrors) -> str:
    value = clean_line(form.get(key, ""))
    if not value:
        errors[key] = f"{label}を入力してください。"
    elif len(value) > limit:
        errors[key] = f"{label}は{limit}文字以内で入力してください。"
    elif _HTMLISH.search(value):
        errors[key] = f"{label}に < や > は使えません。"
    return value


def validate_signup(form: dict[str, str]) -> tuple[SignupData | None, FieldErrors]:
    """Return clean data, or None with a message for every bad field."""
    errors: FieldErrors = {}
    name = _text(form, "name", "氏名", 50, errors)
    organisation = _text(form, "organisation", "所属団体名", 60, errors)
    department = _text(form, "department", "部署名", 60, errors)
    kind_raw = form.get("org_kind", "")
    org_kind = OrgKind(kind_raw) if kind_raw in {k.value for k in OrgKind} else None
    if org_kind is None:
        errors["org_kind"] = "所属の種別（自治体または省庁）を選んでください。"
    prefecture = form.get("prefecture", "")
    if prefecture not in PREFECTURES:
        errors["prefecture"] = "都道府県を一覧から選んでください。"
    elif org_kind is OrgKind.MUNICIPALITY and prefecture == "国":
        errors["prefecture"] = "自治体の方は所在する都道府県を選んでください。"
    email, email_error = check_email(form.get("email", ""))
    if email_error:
        errors["email"] = email_error
    password = form.get("password", "")
    password_error = check_password(password)
    if password_error:
        errors["password"] = password_error
    elif form.get("password_confirm", password) != password:
        errors["password_confirm"] = "確認用パスワードが一致しません。"
    if errors or org_kind is None:
        return None, errors
    return SignupData(name, org_kind, organisation, department, prefecture, email, password), errors
