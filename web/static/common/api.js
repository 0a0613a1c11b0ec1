// The one fetch helper for the JSON API: same-origin cookies, the CSRF header the server checks
// on every cookie-authenticated unsafe request, and the typed error body
// {"error": {"code", "message", "status", "fields"?}} turned into an ApiError whose message is
// the server's Japanese text (or a Japanese fallback when there is no such body).

// The cookie is "__Host-chonai_csrf" over HTTPS and "chonai_csrf" otherwise (web/middleware.py).
const CSRF_COOKIE = /(?:^|;\s*)(?:__Host-)?chonai_csrf=([^;]*)/;

export function csrfToken() {
  const m = document.cookie.match(CSRF_COOKIE);
  return m ? decodeURIComponent(m[1]) : "";
}

export class ApiError extends Error {
  constructor(message, status, code, fields) {
    super(message);
    this.name = "ApiError";
    this.status = status;  // 0 when the request never reached the server
    this.code = code;
    this.fields = fields || {};
  }
}

function fallback(status) {
  if (status === 0) return "サーバーに接続できませんでした。通信状態を確認してください。";
  if (status === 503) return "一時的に利用できません。少し待ってから再度お試しください。";  // as web/errors.py says it
  return "操作に失敗しました（" + status + "）。";
}

/**
 * Call the API and resolve with the decoded JSON ({} for 204 or an empty body).
 * Rejects with ApiError: the server's message for a typed error, a Japanese fallback otherwise.
 */
export async function request(method, url, body) {
  const headers = { accept: "application/json" };
  const options = { method: method, credentials: "same-origin", headers: headers };
  if (method !== "GET" && method !== "HEAD") headers["x-csrftoken"] = csrfToken();
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch (e) {
    throw new ApiError(fallback(0), 0, "network");
  }
  if (response.status === 204) return {};
  const text = await response.text();
  let data = {};
  try { data = text ? JSON.parse(text) : {}; } catch (e) { data = {}; }
  if (!response.ok) {
    const error = data && typeof data.error === "object" && data.error ? data.error : {};
    throw new ApiError(error.message || fallback(response.status), response.status, error.code || "http_" + response.status, error.fields);
  }
  return data;
}

export const getJSON = (url) => request("GET", url);
export const postJSON = (url, body) => request("POST", url, body === undefined ? {} : body);
