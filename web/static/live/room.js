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
  var reactionTimes = [];
  var MAX_ITEMS = 500;
  var STATE_LABELS = { scheduled: "予定", open: "まもなく開始", live: "放送中", ended: "終了", cancelled: "中止" };
  var CLOSED_MESSAGES = {
    4401: "ログインが必要です。ログインし直してからページを再読み込みしてください。",
    4403: "このアカウントではコメントルームを利用できません。"
  };

  function newRef() {
    var a = new Uint8Array(9);
    crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function showError(text) { errorBox.textContent = text || ""; }

  function setConnected(ok, text) {
    root.dataset.connected = ok ? "1" : "0";
    conn.hidden = ok;
    if (!ok) { conn.textContent = text || "再接続中…"; }
    updateForm();
  }

  function updateForm() {
    var ready = root.dataset.connected === "1" && accepting;
    sendButton.disabled = !accepting;
    input.disabled = !accepting;
    input.placeholder = accepting ? "コメントを入力（" + input.maxLength + "文字まで）" : "現在コメントは受け付けていません";
    root.dataset.ready = ready ? "1" : "0";
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

  function addItems(items) {
    var nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    var fragment = document.createDocumentFragment();
    for (var i = 0; i < items.length; i++) {
      var c = items[i];
      if (last !== null && c.position <= last) { continue; }  // never show one twice
      last = c.position;
      var li = document.createElement("li");
      li.dataset.position = String(c.position);
      if (c.member_id === memberId) { li.className = "mine"; }
      var who = document.createElement("span"); who.className = "who"; who.textContent = c.name;
      var org = document.createElement("span"); org.className = "org"; org.textContent = c.organisation;
      var at = document.createElement("time"); at.className = "org"; at.dateTime = c.at; at.textContent = timeLabel(c.at);
      var text = document.createElement("span"); text.className = "text"; text.textContent = c.text;
      li.appendChild(who); li.appendChild(org); li.appendChild(at); li.appendChild(text);
      fragment.appendChild(li);
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
        input.maxLength = m.limits.max_length;
        $("room-max").textContent = String(m.limits.max_length);
        $("room-viewers").textContent = String(m.viewers);
        setReactions(m.reactions);
        setState(m.state, m.state_label, m.state === "open" || m.state === "live");
        setConnected(true);
        break;
      case "history":
        addItems(m.items);
        if (m.last_position !== null && (last === null || m.last_position > last)) {
          last = m.last_position;
          root.dataset.last = String(last);
        }
        if (m.last_position !== null) {
          // Joined: resend whatever was not acknowledged before the connection dropped.
          outbox.forEach(function (c) { send({ type: "comment", text: c.text, ref: c.ref }); });
        }
        break;
      case "comments":
        addItems(m.items);
        break;
      case "ack":
        outbox = outbox.filter(function (c) { return c.ref !== m.ref; });
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
        if (m.code === "invalid_position") { last = null; list.textContent = ""; if (socket) { socket.close(); } }
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
        showError(CLOSED_MESSAGES[event.code]);
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
    var comment = { text: text, ref: newRef() };
    outbox.push(comment);
    if (!send({ type: "comment", text: comment.text, ref: comment.ref })) {
      showError("接続が切れています。再接続後に自動で送信します。");
    }
    input.value = "";
    updateCount();
  });
  input.addEventListener("input", updateCount);

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
