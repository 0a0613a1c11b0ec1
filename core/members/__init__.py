"""Members, roles, sessions and API tokens: what every domain needs to know about people."""

from core.members.models import (
    ApiToken,
    AuthAttempt,
    LoginSession,
    Member,
    OrgKind,
    PasswordReset,
    Role,
    Status,
)

__all__ = ["ApiToken", "AuthAttempt", "LoginSession", "Member", "OrgKind", "PasswordReset", "Role", "Status"]
