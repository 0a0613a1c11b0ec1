"""`chonai admin create` and `chonai token create`: operator accounts and API tokens."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from core.settings import Settings
from web.cli.common import ask, run_db


def cmd_admin_create(settings: Settings, args: argparse.Namespace) -> int:
    from core.members import service
    from core.members.inputs import SignupInput
    from core.members.validation import validate_signup

    form = SignupInput(
        email=ask(args.email, "E-mail"),
        name=ask(args.name, "Name"),
        password=ask(args.password, "Password", secret=True),
        org_kind=args.org_kind,
        organisation=args.organisation,
        department=args.department,
        prefecture=args.prefecture,
    )
    data, errors = validate_signup(form)
    if data is None:
        for field, message in errors.items():
            print(f"chonai: {field}: {message}", file=sys.stderr)
        return 2
    try:
        member = run_db(settings, lambda s: service.create_operator(s, data))
    except service.MemberError as exc:
        print(f"chonai: {exc.message}", file=sys.stderr)
        return 2
    print(f"operator created: {member.email} (id {member.id})")
    return 0


def cmd_token_create(settings: Settings, args: argparse.Namespace) -> int:
    from core.members import service

    async def create(session: Any) -> str | None:
        member = await service.get_by_email(session, args.email)
        if member is None or not member.is_active:
            return None
        _, raw = await service.create_api_token(session, member, args.name)
        return raw

    raw = run_db(settings, create)
    if raw is None:
        print(f"chonai: no approved member with e-mail {args.email}", file=sys.stderr)
        return 2
    print(raw)
    return 0


def add_commands(sub: Any) -> None:
    admin = sub.add_parser("admin", help="operator accounts").add_subparsers(dest="admin_command", required=True)
    create = admin.add_parser("create", help="create an approved operator")
    create.add_argument("--email")
    create.add_argument("--name")
    create.add_argument("--password")
    create.add_argument("--organisation", default="Chonai運営事務局")
    create.add_argument("--department", default="運営チーム")
    create.add_argument("--prefecture", default="東京都")
    create.add_argument("--org-kind", default="municipality", choices=["municipality", "ministry"])
    create.set_defaults(func=cmd_admin_create)

    token = sub.add_parser("token", help="API tokens").add_subparsers(dest="token_command", required=True)
    tcreate = token.add_parser("create", help="print a new API token for a member")
    tcreate.add_argument("--email", required=True)
    tcreate.add_argument("--name", default="CLI")
    tcreate.set_defaults(func=cmd_token_create)
