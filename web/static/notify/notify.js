// The bell's live unread count (/ws/notifications, common/socket.js) and the follow buttons
// (/api/follows, common/api.js). The server sends the current count on every (re)connect.
import { request } from "../common/api.js";
import { connect, socketUrl } from "../common/socket.js";

// --- bell ---------------------------------------------------------------------------------
const bell = document.getElementById("bell");
const badge = document.getElementById("bell-count");

function show(count) {
  bell.setAttribute("data-count", String(count));
  badge.textContent = count > 99 ? "99+" : String(count);
  badge.hidden = count === 0;
  // The accessible name lives in a hidden span (an aria-label would hide the visible count).
  const label = document.getElementById("bell-label");
  if (label) label.textContent = count ? "通知（未読 " + count + " 件）" : "通知";
}

if (bell && badge && "WebSocket" in window) {
  connect({
    url: () => socketUrl("/ws/notifications"),
    onMessage: (msg) => { if (msg.type === "unread") show(msg.count); },
    base: 1000,
    cap: 30000,
  });
}

// --- follow buttons -------------------------------------------------------------------------
const forms = Array.from(document.querySelectorAll("form.follow-form"));
const following = {};

function key(form) { return form.getAttribute("data-follow-target") + ":" + form.getAttribute("data-follow-id"); }

function paint(form) {
  const button = form.querySelector("button");
  const on = following[key(form)] !== undefined;
  button.setAttribute("aria-pressed", on ? "true" : "false");
  button.textContent = on ? "フォロー中" : "フォローする";
  button.title = on ? "押すとフォローを解除します" : "";
}

if (forms.length) {
  request("GET", "/api/follows").then((rows) => {
    rows.forEach((f) => { following[f.target + ":" + f.target_id] = f.id; });
    forms.forEach(paint);
  }).catch(() => { /* the plain form still works */ });
  forms.forEach((form) => {
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const k = key(form);
      const done = following[k] !== undefined
        ? request("DELETE", "/api/follows/" + following[k]).then(() => { delete following[k]; })
        : request("POST", "/api/follows", { target: form.getAttribute("data-follow-target"), id: Number(form.getAttribute("data-follow-id")) })
          .then((f) => { following[k] = f.id; });
      done.then(() => forms.forEach(paint)).catch((err) => alert(err.message));
    });
  });
}
