// Live schedule: listens on /schedule/events and updates state badges and fragments without a reload.
(function () {
  "use strict";
  if (!document.querySelector("[data-schedule-live]")) return;
  var LABELS = { scheduled: "予定", open: "まもなく開始", live: "放送中", ended: "終了", cancelled: "中止" };
  var delay = 1000;
  var socket = null;

  function refreshFragments(ids) {
    document.querySelectorAll("[data-fragment]").forEach(function (el) {
      var only = el.getAttribute("data-fragment-for");
      if (ids && only && ids.indexOf(Number(only)) === -1) return;
      fetch(el.getAttribute("data-fragment"), { headers: { Accept: "text/html" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) { el.innerHTML = html; } })
        .catch(function () { /* the next event or reconnect refreshes it */ });
    });
  }

  function apply(event) {
    if (event.type !== "broadcast_state") return;
    document.querySelectorAll('[data-broadcast-id="' + event.broadcast_id + '"]').forEach(function (badge) {
      badge.textContent = LABELS[event.state] || event.state;
      badge.setAttribute("data-state", event.state);
      badge.className = "badge badge-" + event.state;
    });
    document.querySelectorAll('[data-broadcast-row="' + event.broadcast_id + '"]').forEach(function (row) {
      Array.prototype.slice.call(row.classList).forEach(function (c) {
        if (c.indexOf("sched-") === 0 && c !== "sched-item") row.classList.remove(c);
      });
      row.classList.add("sched-" + event.state);
    });
    refreshFragments([event.broadcast_id]);
  }

  // A refusal (e.g. this address is not an allowed origin) is said once, at the top of the page.
  function showNotice(text) {
    var box = document.getElementById("schedule-live-error");
    if (!box) {
      box = document.createElement("p");
      box.id = "schedule-live-error";
      box.className = "error-box";
      box.setAttribute("role", "alert");
      var main = document.querySelector("main") || document.body;
      main.insertBefore(box, main.firstChild);
    }
    box.textContent = text;
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/schedule/events");
    var opened = false;
    socket.onopen = function () {
      if (opened) return;
      opened = true;
      if (delay > 1000) refreshFragments(null);  // we may have missed events while disconnected
      delay = 1000;
      document.documentElement.setAttribute("data-schedule-connected", "1");
    };
    socket.onmessage = function (m) {
      var event;
      try { event = JSON.parse(m.data); } catch (e) { return; }
      if (event.type === "error") { showNotice(event.message); return; }
      apply(event);
    };
    socket.onclose = function (e) {
      document.documentElement.removeAttribute("data-schedule-connected");
      if (e.code === 4401 || e.code === 4403) return;  // logged out or refused: don't hammer
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  connect();
})();
