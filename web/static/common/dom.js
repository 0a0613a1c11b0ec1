// Small DOM helpers shared by the pages. Text always goes in as text (never parsed as HTML).

export const byId = (id) => document.getElementById(id);

/**
 * Create an element. `attrs` is null, a class name, or an object: "class", "text", "data-*" and
 * "aria-*" keys become the class, the text and attributes; any other key is set as a property
 * (e.g. type, disabled, onclick). Children are nodes or strings (strings become text nodes).
 */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  if (typeof attrs === "string") {
    node.className = attrs;
  } else if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v === null || v === undefined ? "" : String(v);
      else if (k.startsWith("data-") || k.startsWith("aria-")) node.setAttribute(k, v);
      else node[k] = v;
    }
  }
  for (const c of children) {
    if (c !== null && c !== undefined) node.append(typeof c === "object" ? c : String(c));
  }
  return node;
}

const JST = "Asia/Tokyo";

/** "14:05" (or "14:05:09" with seconds, "12/2 14:05:09" with date) in Japan time; "" if not a date. */
export function jstTime(iso, { seconds = false, date = false } = {}) {
  const d = new Date(iso);
  if (isNaN(d.getTime())) return "";
  const options = { hour: "2-digit", minute: "2-digit", timeZone: JST };
  if (seconds) options.second = "2-digit";
  if (date) { options.month = "numeric"; options.day = "numeric"; }
  return date ? d.toLocaleString("ja-JP", options) : d.toLocaleTimeString("ja-JP", options);
}
