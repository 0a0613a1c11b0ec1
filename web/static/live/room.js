// Live comment room: one WebSocket, resumes from the last position after any disconnect.
// Protocol: docs/protocol.md. No framework, no build step.
(function () {
  "use strict";
  var root = document.getElementById("room");
  if (!root || !window.WebSocket) { return; }

  var roomId = parseInt(root.dataset.roomId, 10);
  var wsUrl = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + root.dataset.wsPath;
  var $ = function (id) { return document.getElementById(id); };
  var list = $("room-comments"), form = $("room-form"), input = $("room-text"), sendButton = $("room-send");
  var errorBox = $("room-error"), conn = $("room-conn"), stateBadge = $("room-state");

  var socket = null, last = null, memberId = null, accepting = false, attempts = 0, joined = false;
  var retryTimer = null, heartbeat = null, lastSeen = 0, stopped = false;
  var outbox = [];  // comments sent but not yet acknowledged: resent (same ref) after reconnecting
  // Moderation state: hidden positions, the room's switches, this member's timeout/ban, slow mode.
  var moderator = false, hidden = {}, controls = {}, restriction = null, slowUntil = 0, limitTimer = null;
  var limitBox = $("room-limit"), questionBox = $("room-question");
  var reactionTimes = [];
  var refusal = null;  // the server's reason for refusing this page (e.g. its address is not an allowed origin)
  var MAX_ITEMS = 500;
  var STATE_LABELS = { scheduled: "予定", open: "まもなく開始", live: "放送中", ended: "終了", cancelled: "中止" };
  var CLOSED_MESSAGES = {
    4401: "ログインが必要です。ログインし直してからページを再読み込みしてください。",
    4403: "このアカウントではコメントルームを利用できません。"
  };

  // A busy room would drown a screen reader: the log is silent unless the member asks to hear new comments.
  var announce = $("room-announce");
  if (announce) {
    announce.addEventListener("change", function () { $("room-log").setAttribute("aria-live", announce.checked ? "polite" : "off"); });
  }

  function newRef() {
    var a = new Uint8Array(9);
    crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function showError(text) { errorBox.textContent = text || ""; }

  var noteTimer = null;
  function showNote(text) {
    var note = $("room-note");
    if (!note) {
      note = document.createElement("p");
      note.id = "room-note"; note.className = "room-note"; note.setAttribute("role", "status");
      form.appendChild(note);
    }
    note.textContent = text;
    clearTimeout(noteTimer);
    noteTimer = setTimeout(function () { note.textContent = ""; }, 8000);
  }

  function setConnected(ok, text) {
    root.dataset.connected = ok ? "1" : "0";
    conn.hidden = ok;
    if (!ok) { conn.textContent = text || "再接続中…"; }
    updateForm();
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function remaining(ms) {
    var s = Math.max(0, Math.ceil(ms / 1000));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    if (h) { return h + "時間" + pad(m) + "分" + pad(s % 60) + "秒"; }
    return m ? m + "分" + pad(s % 60) + "秒" : (s % 60) + "秒";
  }

  // Why this member cannot comment right now ("" when they can); moderators are never limited.
  function limitText() {
    if (moderator) { return ""; }
    if (controls.comments_off) { return "この放送ではコメントが停止されています。"; }
    if (controls.locked) { return "ルームはロック中です（閲覧のみ）。"; }
    if (restriction) {
      if (restriction.until === null) { return restriction.message; }
      var left = restriction.until - Date.now();
      if (left > 0) {
        return (restriction.code === "banned" ? "コメント禁止中" : "タイムアウト中") + "：あと" + remaining(left) +
          "（" + new Date(restriction.until).toLocaleTimeString("ja-JP", { hour: "2-digit", minute: "2-digit", second: "2-digit", timeZone: "Asia/Tokyo" }) + "まで）";
      }
      restriction = null;
    }
    return "";
  }

  function updateForm() {
    var ready = root.dataset.connected === "1" && accepting;
    var limit = accepting ? limitText() : "";
    var slowLeft = !moderator && accepting && !limit ? slowUntil - Date.now() : 0;
    sendButton.disabled = !accepting || !!limit || slowLeft > 0;
    input.disabled = !accepting || !!limit;
    input.placeholder = !accepting ? "現在コメントは受け付けていません" :
      limit ? "コメントできません" : "コメントを入力（" + input.maxLength + "文字まで）";
    var text = limit || (slowLeft > 0 ? "スローモード中：あと" + remaining(slowLeft) + "で送信できます" : "");
    limitBox.textContent = text;
    limitBox.hidden = !text;
    root.dataset.limited = limit ? "1" : "0";
    root.dataset.ready = ready ? "1" : "0";
    var ticking = (restriction && restriction.until !== null) || slowLeft > 0;
    if (ticking && !limitTimer) { limitTimer = setInterval(updateForm, 1000); }
    if (!ticking && limitTimer) { clearInterval(limitTimer); limitTimer = null; }
  }

  function setRestriction(code, message, until) {
    restriction = code ? { code: code, message: message, until: until ? Date.parse(until) : null } : null;
    updateForm();
  }

  function applyControls(c) {
    controls = c;
    // Slow mode turned off (or shortened): the countdown ends with it; the server no longer waits either.
    slowUntil = c.slow_mode_seconds ? Math.min(slowUntil, Date.now() + c.slow_mode_seconds * 1000) : 0;
    var pinned = $("room-pinned");
    $("room-pinned-text").textContent = c.pinned_text || "";
    pinned.hidden = !c.pinned_text;
    var picked = $("room-picked");
    picked.hidden = !c.picked;
    $("room-picked-name").textContent = c.picked ? c.picked.name : "";
    $("room-picked-text").textContent = c.picked ? c.picked.text : "";
    list.querySelectorAll("li.is-picked").forEach(function (li) { li.classList.remove("is-picked"); });
    if (c.picked) {
      var li = list.querySelector('li[data-position="' + c.picked.position + '"]');
      if (li) { li.classList.add("is-picked"); }
    }
    updateForm();
  }

  function setHidden(position, isHidden, item) {
    if (isHidden) { hidden[position] = true; } else { delete hidden[position]; }
    var li = list.querySelector('li[data-position="' + position + '"]');
    if (moderator) { if (li) { li.classList.toggle("is-hidden", isHidden); } return; }
    if (isHidden) { if (li) { li.parentNode.removeChild(li); } return; }
    if (li || !item || last === null || item.position > last) { return; }
    // Restored: put it back in position order.
    var next = null;
    list.querySelectorAll("li[data-position]").forEach(function (other) {
      if (!next && parseInt(other.dataset.position, 10) > position) { next = other; }
    });
    list.insertBefore(commentNode(item), next);
  }

  function setState(state, label, isAccepting) {
    stateBadge.dataset.state = state;
    stateBadge.textContent = label || STATE_LABELS[state] || state;
    accepting = isAccepting;
    updateForm();
  }

  function timeLabel(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) { return ""; }
    return d.toLocaleTimeString("ja-JP", { hour: "2-digit", minute: "2-digit", timeZone: "Asia/Tokyo" });
  }

  function commentNode(c) {
    var li = document.createElement("li");
    li.dataset.position = String(c.position);
    if (c.member_id === memberId) { li.className = "mine"; }
    if (hidden[c.position]) { li.classList.add("is-hidden"); }
    if (controls.picked && controls.picked.position === c.position) { li.classList.add("is-picked"); }
    if (c.member_id !== memberId) {
      var report = document.createElement("button");
      report.type = "button"; report.className = "report"; report.textContent = "通報";
      report.setAttribute("aria-label", c.name + "さんのコメントを通報");
      li.appendChild(report);
    }
    if (c.question) { var q = document.createElement("span"); q.className = "q"; q.textContent = "質問"; li.appendChild(q); }
    var who = document.createElement("span"); who.className = "who"; who.textContent = c.name;
    var org = document.createElement("span"); org.className = "org"; org.textContent = c.organisation;
    var at = document.createElement("time"); at.className = "org"; at.dateTime = c.at; at.textContent = timeLabel(c.at);
    var text = document.createElement("span"); text.className = "text"; text.textContent = c.text;
    li.appendChild(who); li.appendChild(org); li.appendChild(at); li.appendChild(text);
    return li;
  }

  function addItems(items) {
    var nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    var fragment = document.createDocumentFragment();
    for (var i = 0; i < items.length; i++) {
      var c = items[i];
      if (last !== null && c.position <= last) { continue; }  // never show one twice
      last = c.position;
      if (hidden[c.position] && !moderator) { continue; }
      fragment.appendChild(commentNode(c));
    }
    list.appendChild(fragment);
    while (list.children.length > MAX_ITEMS) { list.removeChild(list.firstChild); }
    root.dataset.last = last === null ? "" : String(last);
    if (nearBottom) { list.scrollTop = list.scrollHeight; }
  }

  function setReactions(counts) {
    Object.keys(counts).forEach(function (kind) {
      var el = root.querySelector('[data-count="' + kind + '"]');
      if (el) { el.textContent = String(counts[kind]); }
    });
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  function onMessage(event) {
    lastSeen = Date.now();
    var m;
    try { m = JSON.parse(event.data); } catch (e) { return; }
    switch (m.type) {
      case "welcome":
        joined = true;
        memberId = m.member_id;
        attempts = 0;
        moderator = !!m.moderator;
        hidden = {};
        (m.hidden || []).forEach(function (p) { hidden[p] = true; });
        list.querySelectorAll("li[data-position]").forEach(function (li) {
          if (hidden[li.dataset.position]) { setHidden(parseInt(li.dataset.position, 10), true); }
        });
        if (m.controls) { controls = m.controls; }
        restriction = null;
        if (m.restriction) { setRestriction(m.restriction.code, m.restriction.message, m.restriction.until); }
        input.maxLength = m.limits.max_length;
        $("room-max").textContent = String(m.limits.max_length);
        $("room-viewers").textContent = String(m.viewers);
        setReactions(m.reactions);
        setState(m.state, m.state_label, m.state === "open" || m.state === "live");
        setConnected(true);
        applyControls(controls);
        break;
      case "history":
        addItems(m.items);
        if (m.last_position !== null && (last === null || m.last_position > last)) {
          last = m.last_position;
          root.dataset.last = String(last);
        }
        if (m.last_position !== null) {
          // Joined: resend whatever was not acknowledged before the connection dropped.
          outbox.forEach(function (c) { send({ type: "comment", text: c.text, ref: c.ref, question: !!c.question }); });
        }
        break;
      case "comments":
        addItems(m.items);
        break;
      case "ack":
        outbox = outbox.filter(function (c) { return c.ref !== m.ref; });
        if (controls.slow_mode_seconds && !moderator) { slowUntil = Date.now() + controls.slow_mode_seconds * 1000; updateForm(); }
        break;
      case "held":
        outbox = outbox.filter(function (c) { return c.ref !== m.ref; });
        showError("");
        showNote(m.message);
        break;
      case "visibility":
        setHidden(m.position, m.hidden, m.item);
        break;
      case "controls":
        applyControls(m);
        break;
      case "restricted":
        setRestriction(m.code, m.message, m.until);
        if (!m.code) { showNote(m.message); }
        break;
      case "reactions":
        setReactions(m.counts);
        break;
      case "presence":
        $("room-viewers").textContent = String(m.viewers);
        break;
      case "state":
        setState(m.state, m.label, m.accepting);
        break;
      case "error":
        if (m.ref) {
          var failed = outbox.filter(function (c) { return c.ref === m.ref; })[0];
          outbox = outbox.filter(function (c) { return c.ref !== m.ref; });
          if (failed && m.code !== "unavailable" && !input.value) { input.value = failed.text; updateCount(); }
          if (failed && m.code === "unavailable") { outbox.push(failed); }
        }
        if (m.code === "origin_not_allowed") { refusal = m.message; }
        if (m.code === "invalid_position") { last = null; list.textContent = ""; if (socket) { socket.close(); } }
        if (m.code === "timed_out" || m.code === "banned") { setRestriction(m.code, m.message, m.until); }
        if (m.code === "slow_mode" && m.retry_after) { slowUntil = Date.now() + m.retry_after * 1000; updateForm(); }
        // A join the server could not serve yet (database unreachable, sync delayed): reconnect with backoff.
        if (m.code === "unavailable" && !m.ref && !joined && socket) { socket.close(); }
        showError(m.message);
        break;
      default:
        break;
    }
  }

  function connect() {
    retryTimer = null;
    if (stopped) { return; }
    var ws = new WebSocket(wsUrl);
    socket = ws;
    joined = false;
    ws.onopen = function () {
      lastSeen = Date.now();
      ws.send(JSON.stringify({ type: "join", room: roomId, after: last }));
    };
    ws.onmessage = onMessage;
    ws.onclose = function (event) {
      if (socket !== ws) { return; }
      socket = null;
      if (CLOSED_MESSAGES[event.code]) {
        stopped = true;
        setConnected(false, "切断されました");
        showError(refusal || CLOSED_MESSAGES[event.code]);
        return;
      }
      setConnected(false);
      scheduleReconnect();
    };
    ws.onerror = function () { /* onclose follows */ };
  }

  function scheduleReconnect() {
    if (retryTimer || stopped) { return; }
    attempts += 1;
    var delay = Math.min(10000, 300 * Math.pow(2, Math.min(attempts, 6))) * (0.7 + Math.random() * 0.6);
    retryTimer = setTimeout(connect, delay);
  }

  function reconnectNow() {
    if (retryTimer) { clearTimeout(retryTimer); retryTimer = null; }
    if (!socket) { attempts = 0; connect(); }
  }

  function dropConnection() {
    if (socket) { var ws = socket; socket = null; ws.close(); }
    setConnected(false);
  }

  function updateCount() { $("room-count").textContent = String(input.value.length); }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) { showError("コメントを入力してください。"); return; }
    if (text.length > input.maxLength) { showError("コメントは" + input.maxLength + "文字以内で入力してください。"); return; }
    showError("");
    var comment = { text: text, ref: newRef(), question: !!(questionBox && questionBox.checked) };
    outbox.push(comment);
    if (questionBox) { questionBox.checked = false; }
    if (!send({ type: "comment", text: comment.text, ref: comment.ref, question: comment.question })) {
      showError("接続が切れています。再接続後に自動で送信します。");
    }
    input.value = "";
    updateCount();
  });
  input.addEventListener("input", updateCount);

  // Report a comment (any member; moderators see reports on the control page).
  list.addEventListener("click", function (event) {
    var button = event.target.closest("button.report");
    if (!button || button.disabled) { return; }
    var li = button.closest("li[data-position]");
    if (!window.confirm("このコメントをモデレーターに通報しますか？")) { return; }
    var token = (document.cookie.match(/(?:^|;\s*)(?:__Host-)?chonai_csrf=([^;]+)/) || [])[1] || "";
    button.disabled = true;
    fetch(list.dataset.reportUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", accept: "application/json", "x-csrftoken": decodeURIComponent(token) },
      body: JSON.stringify({ position: parseInt(li.dataset.position, 10) })
    }).then(function (r) {
      if (r.ok || r.status === 409) { button.textContent = "通報済み"; showNote("通報しました。モデレーターが確認します。"); return; }
      return r.json().then(function (d) { throw new Error(d.error ? d.error.message : String(r.status)); });
    }).catch(function (e) {
      button.disabled = false;
      showError("通報できませんでした（" + e.message + "）。");
    });
  });

  root.querySelectorAll(".reaction").forEach(function (button) {
    button.addEventListener("click", function () {
      var now = Date.now();
      reactionTimes = reactionTimes.filter(function (t) { return now - t < 1000; });
      if (reactionTimes.length >= 5) { return; }
      reactionTimes.push(now);
      send({ type: "reaction", kind: button.dataset.kind });
    });
  });

  heartbeat = setInterval(function () {
    if (!socket || socket.readyState !== WebSocket.OPEN) { return; }
    if (Date.now() - lastSeen > 35000) { dropConnection(); scheduleReconnect(); return; }
    send({ type: "ping" });
  }, 15000);

  window.addEventListener("offline", function () { dropConnection(); });
  window.addEventListener("online", reconnectNow);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) { reconnectNow(); } });
  window.addEventListener("pagehide", function () { stopped = true; clearInterval(heartbeat); if (socket) { socket.close(); } });

  setConnected(false, "接続中…");
  connect();
})();
