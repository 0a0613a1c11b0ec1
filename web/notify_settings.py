"""The notification settings body of `/api/notifications/settings`: typed in and out, one field per kind.

The body names each kind twice (top level and under `kinds`, as clients already send either); the
structs spell the kinds out so that OpenAPI describes them; `_KIND_FIELDS` keeps them equal to
`core.notify.models.Kind` (checked at import).
"""

from __future__ import annotations

import re
from typing import Annotated

import msgspec
from msgspec import UNSET, UnsetType

from core.errors import Invalid
from core.notify import prefs
from core.notify.models import Kind

HHMM = Annotated[str, msgspec.Meta(pattern=r"^([01]\d|2[0-3]):([0-5]\d)$")]
Lead = Annotated[int, msgspec.Meta(ge=0, le=prefs.MAX_LEAD)]


class Switch(msgspec.Struct):
    """One kind: in-app and by mail."""

    app: bool
    mail: bool


class SwitchIn(msgspec.Struct, forbid_unknown_fields=True):
    """A change to one kind; what it omits stays."""

    app: bool | UnsetType = UNSET
    mail: bool | UnsetType = UNSET


class QuietHours(msgspec.Struct, forbid_unknown_fields=True):
    """Local (Asia/Tokyo) HH:MM; mail held in between."""

    start: HHMM
    end: HHMM


class KindsOut(msgspec.Struct):
    program_live: Switch
    program_reminder: Switch
    session_reminder: Switch
    question_answered: Switch
    question_dismissed: Switch
    question_merged: Switch
    faq_published: Switch
    signup_pending: Switch
    report_received: Switch


class SettingsOut(KindsOut):
    """GET and PUT answer: every kind (also under `kinds`), lead time, digest, quiet hours (null: none)."""

    kinds: KindsOut
    lead_minutes: int
    digest: bool
    quiet_hours: QuietHours | None


class KindsIn(msgspec.Struct, forbid_unknown_fields=True):
    program_live: SwitchIn | UnsetType = UNSET
    program_reminder: SwitchIn | UnsetType = UNSET
    session_reminder: SwitchIn | UnsetType = UNSET
    question_answered: SwitchIn | UnsetType = UNSET
    question_dismissed: SwitchIn | UnsetType = UNSET
    question_merged: SwitchIn | UnsetType = UNSET
    faq_published: SwitchIn | UnsetType = UNSET
    signup_pending: SwitchIn | UnsetType = UNSET
    report_received: SwitchIn | UnsetType = UNSET


class SettingsIn(KindsIn, forbid_unknown_fields=True):
    """PUT body: change what it names (unknown keys refused); what it omits stays."""

    kinds: KindsIn | UnsetType = UNSET
    lead_minutes: Lead | UnsetType = UNSET
    digest: bool | UnsetType = UNSET
    quiet_hours: QuietHours | UnsetType | None = UNSET


_KIND_FIELDS = {k.value for k in Kind}
assert set(KindsOut.__struct_fields__) == _KIND_FIELDS == set(KindsIn.__struct_fields__), "a Kind without a field"


def settings_out(p: prefs.Prefs) -> SettingsOut:
    kinds = {k.value: Switch(p.app(k), p.mail(k)) for k in Kind}
    quiet = QuietHours(*p.quiet) if p.quiet else None
    return SettingsOut(
        **kinds, kinds=KindsOut(**kinds), lead_minutes=p.lead_minutes, digest=p.digest, quiet_hours=quiet
    )


_UNKNOWN = re.compile(r"unknown field `([^`]*)`")
_PATH = re.compile(r"at `\$\.([\w.]+)`")


def _refusal(exc: msgspec.ValidationError) -> Invalid:
    """msgspec's English error as the Japanese field error the settings page and API clients get."""
    text = str(exc)
    unknown = _UNKNOWN.search(text)
    if unknown:
        name = unknown.group(1)[:50]
        return Invalid(f"知らない設定項目です: {name}", fields={name: "知らない項目です。"})
    path = (m.group(1) if (m := _PATH.search(text)) else "").removeprefix("kinds.")
    head = path.split(".")[0]
    if head in _KIND_FIELDS:
        return Invalid(
            f'{head} は {{"app": true/false, "mail": true/false}} で指定してください。',
            fields={head: "app と mail を true / false で指定してください。"},
        )
    if head == "lead_minutes":
        return Invalid(
            "リマインダーは 0〜1440 分前で指定してください（0 はリマインダーなし）。",
            fields={"lead_minutes": "0〜1440 の整数で入力してください。"},
        )
    if head == "digest":
        return Invalid("digest は true か false です。", fields={"digest": "true か false で指定してください。"})
    if path in ("quiet_hours.start", "quiet_hours.end"):
        return Invalid("時刻は 22:00 のように HH:MM で入力してください。", fields={path: "HH:MM で入力してください。"})
    if head == "quiet_hours":
        return Invalid(
            'quiet_hours は null か {"start": "22:00", "end": "07:00"} です。',
            fields={"quiet_hours": "null か start と end です。"},
        )
    return Invalid(
        "設定は種類ごとの {app, mail} と lead_minutes・digest・quiet_hours です。", fields={"kinds": text[:200]}
    )


def decode_settings(data: object) -> SettingsIn:
    """The PUT body (already JSON-decoded) as SettingsIn, or a typed Japanese refusal."""
    try:
        return msgspec.convert(data, SettingsIn)
    except msgspec.ValidationError as exc:
        raise _refusal(exc) from None


#: The settings page's field names for the API's (the page has two time inputs and a checkbox).
_FORM_FIELDS = {"quiet_hours.start": "quiet_start", "quiet_hours.end": "quiet_end"}


def settings_from_form(form: dict[str, str]) -> SettingsIn:
    """The settings page (/settings/notifications) as the SettingsIn the API takes; errors use the page's names."""
    lead = form.get("lead_minutes", "").strip()
    body: dict[str, object] = {
        **{
            k.value: {"app": form.get(f"{k.value}.app") == "on", "mail": form.get(f"{k.value}.mail") == "on"}
            for k in Kind
        },
        "lead_minutes": int(lead) if lead.isdigit() and len(lead) <= 5 else -1,
        "digest": form.get("digest") == "on",
        "quiet_hours": (
            {"start": form.get("quiet_start", ""), "end": form.get("quiet_end", "")}
            if form.get("quiet") == "on"
            else None
        ),
    }
    try:
        return msgspec.convert(body, SettingsIn)
    except msgspec.ValidationError as exc:
        refusal = _refusal(exc)
        raise Invalid(refusal.message, fields={_FORM_FIELDS.get(k, k): v for k, v in refusal.fields.items()}) from None


def apply_settings(p: prefs.Prefs, data: SettingsIn) -> prefs.Prefs:
    """Change what `data` names; a kind named both under `kinds` and at the top level: the top level wins."""
    kinds = dict(p.kinds)
    for source in (data.kinds, data):
        if isinstance(source, UnsetType):
            continue
        for kind in Kind:
            change = getattr(source, kind.value)
            if isinstance(change, SwitchIn):
                app, mail = kinds[kind]
                kinds[kind] = (
                    app if change.app is UNSET else change.app,
                    mail if change.mail is UNSET else change.mail,
                )
    quiet = p.quiet
    if data.quiet_hours is not UNSET:
        quiet = None if data.quiet_hours is None else (data.quiet_hours.start, data.quiet_hours.end)
    return prefs.Prefs(
        kinds=kinds,
        lead_minutes=p.lead_minutes if data.lead_minutes is UNSET else data.lead_minutes,
        digest=p.digest if data.digest is UNSET else data.digest,
        quiet=quiet,
    )
