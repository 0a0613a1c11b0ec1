"""The OpenAPI document: security schemes (session cookie, Bearer token) and the real error body.

Litestar documents its own `{"status_code", "detail", "extra"}` error shape; Chonai answers every
refusal with `{"error": {"code", "message", "status", "fields"?}}` (core.errors, web/errors.py),
so the JSON plugin rewrites each error response to reference that one schema.
"""

from __future__ import annotations

import copy
from typing import Any

from litestar import Request
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from web.middleware import SESSION_COOKIE

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "status"],
            "properties": {
                "code": {"type": "string", "description": "stable machine-readable code, e.g. not_found"},
                "message": {"type": "string", "description": "Japanese message for people"},
                "status": {"type": "integer", "description": "the HTTP status"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "form field -> Japanese field error",
                },
                "details": {"description": "machine-readable parsing details (validation errors)"},
            },
            "additionalProperties": True,
        }
    },
    "example": {"error": {"code": "not_found", "message": "放送が見つかりません。", "status": 404}},
}
ERROR_REF = {"$ref": "#/components/schemas/Error"}
# Every authenticated endpoint may answer these besides what Litestar lists.
COMMON_ERRORS = {
    "401": "ログインが必要です (login_required)",
    "403": "権限がない、または CSRF トークンが正しくない (forbidden, csrf_failed)",
    "503": "データベースまたは Redis に一時的に接続できない (unavailable)",
}


def chonai_document(document: dict[str, Any]) -> dict[str, Any]:
    """The document Litestar built, with Chonai's error schema on every 4xx/5xx response."""
    doc = copy.deepcopy(document)
    doc.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, operations in doc.get("paths", {}).items():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status, response in responses.items():
                if status[0] in "45":
                    response["content"] = {"application/json": {"schema": ERROR_REF}}
            if path.startswith("/api/"):
                for status, description in COMMON_ERRORS.items():
                    responses.setdefault(
                        status, {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}
                    )
    return doc


class ChonaiJsonPlugin(JsonRenderPlugin):
    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return self.render_json(request, chonai_document(openapi_schema))


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Chonai API",
        version="1",
        path="/schema",
        render_plugins=[ChonaiJsonPlugin()],
        components=Components(
            security_schemes={
                "session": SecurityScheme(
                    type="apiKey",
                    name=SESSION_COOKIE,
                    security_scheme_in="cookie",
                    description="ブラウザのログインセッション。書き込みには CSRF トークン (x-csrftoken) も必要です。",
                ),
                "bearer": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description="プロフィールで発行する API トークン (chn_…)。CSRF トークンは不要です。",
                ),
            }
        ),
        security=[{"session": []}, {"bearer": []}],
    )
