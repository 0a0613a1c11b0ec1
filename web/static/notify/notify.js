// The bell's live unread count (/ws/notifications) and the follow buttons (/api/follows).
(function () {
  "use strict";

  function csrf() {
    var m = document.cookie.match(/(?:^|;\s*)chonai_csrf=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  function call(method, path, body) {
    var options = { method: method, credentials: "same-origin", headers: { accept: "application/json", "x-csrftoken": csrf() } };
    if (body !== undefined) {
      options.headers["content-type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(path, options).then(function (r) {
      if (r.status === 204) return {};
      return r.json().then(function (data) {
        if (!r.ok) throw new Error((data.error && data.error.message) || "操作できませんでした。");
        return data;
      });
    });
  }

  // --- bell ---------------------------------------------------------------------------------
  var bell = document.getElementById("bell");
  var badge = document.getElementById("bell-count");
  function show(count) {
    if (!bell || !badge) return;
    bell.setAttribute("data-count", String(count));
    badge.textContent = count > 99 ? "99+" : String(count);
    badge.hidden = count === 0;
    // The accessible name lives in a hidden span (an aria-label would hide the visible count).
    var label = document.getElementById("bell-label");
    if (label) label.textContent = count ? "通知（未読 " + count + " 件）" : "通知";
  }
  var delay = 1000;
  function connect() {
    var ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/notifications");
    ws.onopen = function () { delay = 1000; };
    ws.onmessage = function (e) {
      try {
        var msg = JSON.parse(e.data);
        if (msg.type === "unread") show(msg.count);
      } catch (err) { /* ignore a malformed frame */ }
    };
    ws.onclose = function (e) {
      if (e.code === 4401 || e.code === 4403) return; // logged out or not our page: do not retry
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  if (bell && badge && "WebSocket" in window) connect();

  // --- follow buttons -------------------------------------------------------------------------
  var forms = Array.prototype.slice.call(document.querySelectorAll("form.follow-form"));
  if (!forms.length) return;
  var following = {};
  function key(form) { return form.getAttribute("data-follow-target") + ":" + form.getAttribute("data-follow-id"); }
  function paint(form) {
    var button = form.querySelector("button");
    var on = following[key(form)] !== undefined;
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.textContent = on ? "フォロー中" : "フォローする";
    button.title = on ? "押すとフォローを解除します" : "";
  }
  call("GET", "/api/follows").then(function (rows) {
    rows.forEach(function (f) { following[f.target + ":" + f.target_id] = f.id; });
    forms.forEach(paint);
  }).catch(function () { /* the plain form still works */ });
  forms.forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var k = key(form);
      var done = following[k] !== undefined
        ? call("DELETE", "/api/follows/" + following[k]).then(function () { delete following[k]; })
        : call("POST", "/api/follows", { target: form.getAttribute("data-follow-target"), id: Number(form.getAttribute("data-follow-id")) })
            .then(function (f) { following[k] = f.id; });
      done.then(function () { forms.forEach(paint); }).catch(function (err) { alert(err.message); });
    });
  });
})();
