// Live schedule: listens on /schedule/events (common/socket.js) and updates state badges and
// fragments without a reload. Events carry the state's label (live.events.BroadcastStateChanged).
import { connect, socketUrl } from "../common/socket.js";

if (document.querySelector("[data-schedule-live]")) start();

function refreshFragments(ids) {
  document.querySelectorAll("[data-fragment]").forEach((el) => {
    const only = el.getAttribute("data-fragment-for");
    if (ids && only && ids.indexOf(Number(only)) === -1) return;
    fetch(el.getAttribute("data-fragment"), { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then((r) => (r.ok ? r.text() : null))
      .then((html) => { if (html !== null) el.innerHTML = html; })
      .catch(() => { /* the next event or reconnect refreshes it */ });
  });
}

function apply(event) {
  if (event.type !== "broadcast_state") return;
  document.querySelectorAll('[data-broadcast-id="' + event.broadcast_id + '"]').forEach((badge) => {
    badge.textContent = event.label || event.state;
    badge.setAttribute("data-state", event.state);
    badge.className = "badge badge-" + event.state;
  });
  document.querySelectorAll('[data-broadcast-row="' + event.broadcast_id + '"]').forEach((row) => {
    Array.from(row.classList).forEach((c) => {
      if (c.indexOf("sched-") === 0 && c !== "sched-item") row.classList.remove(c);
    });
    row.classList.add("sched-" + event.state);
  });
  refreshFragments([event.broadcast_id]);
}

// A refusal (e.g. this address is not an allowed origin) is said once, at the top of the page.
function showNotice(text) {
  let box = document.getElementById("schedule-live-error");
  if (!box) {
    box = document.createElement("p");
    box.id = "schedule-live-error";
    box.className = "error-box";
    box.setAttribute("role", "alert");
    const main = document.querySelector("main") || document.body;
    main.insertBefore(box, main.firstChild);
  }
  box.textContent = text;
}

function start() {
  let dropped = false;  // events may have been missed while disconnected: re-read the fragments
  connect({
    url: () => socketUrl("/schedule/events"),
    onOpen: () => {
      if (dropped) refreshFragments(null);
      dropped = false;
      document.documentElement.setAttribute("data-schedule-connected", "1");
    },
    onMessage: (event) => {
      if (event.type === "error") { showNotice(event.message); return; }
      apply(event);
    },
    onStatus: (status) => {
      if (status === "reconnecting" || status === "closed") {
        dropped = true;
        document.documentElement.removeAttribute("data-schedule-connected");
      }
    },
    base: 1000,
    cap: 30000,
  });
}
