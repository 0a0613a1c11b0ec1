// Live comment room: one WebSocket (common/socket.js) that resumes from the last position after any
// disconnect; unacknowledged comments are resent with the same ref. Protocol: docs/protocol.md.
import { request } from "../common/api.js";
import { byId as $, el, jstTime } from "../common/dom.js";
import { connect, socketUrl } from "../common/socket.js";

const MAX_ITEMS = 500;
// What each refusal means to the member; the server's own reason (refusal) wins when it sent one.
const CLOSED_MESSAGES = {
  4401: "ログインが必要です。ログインし直してからページを再読み込みしてください。",
  4403: "このアカウントではコメントルームを利用できません。",
};

function pad(n) { return (n < 10 ? "0" : "") + n; }

function remaining(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  if (h) return h + "時間" + pad(m) + "分" + pad(s % 60) + "秒";
  return m ? m + "分" + pad(s % 60) + "秒" : (s % 60) + "秒";
}

function newRef() {
  const a = new Uint8Array(9);
  crypto.getRandomValues(a);
  return Array.from(a, (b) => ("0" + b.toString(16)).slice(-2)).join("");
}

function start(root) {
  const roomId = parseInt(root.dataset.roomId, 10);
  const list = $("room-comments"), form = $("room-form"), input = $("room-text"), sendButton = $("room-send");
  const errorBox = $("room-error"), conn = $("room-conn"), stateBadge = $("room-state");
  const limitBox = $("room-limit"), questionBox = $("room-question");

  let last = null, memberId = null, accepting = false, joined = false;
  let outbox = [];  // comments sent but not yet acknowledged: resent (same ref) after reconnecting
  // Moderation state: hidden positions, the room's switches, this member's timeout/ban, slow mode.
  let moderator = false, hidden = {}, controls = {}, restriction = null, slowUntil = 0, limitTimer = null;
  let reactionTimes = [];
  let refusal = null;  // the server's reason for refusing this page (e.g. its address is not an allowed origin)

  // A busy room would drown a screen reader: the log is silent unless the member asks to hear new comments.
  const announce = $("room-announce");
  if (announce) {
    announce.addEventListener("change", () => $("room-log").setAttribute("aria-live", announce.checked ? "polite" : "off"));
  }

  function showError(text) { errorBox.textContent = text || ""; }

  let noteTimer = null;
  function showNote(text) {
    let note = $("room-note");
    if (!note) {
      note = el("p", { id: "room-note", class: "room-note" });
      note.setAttribute("role", "status");
      form.appendChild(note);
    }
    note.textContent = text;
    clearTimeout(noteTimer);
    noteTimer = setTimeout(() => { note.textContent = ""; }, 8000);
  }

  function setConnected(ok, text) {
    root.dataset.connected = ok ? "1" : "0";
    conn.hidden = ok;
    if (!ok) conn.textContent = text || "再接続中…";
    updateForm();
  }

  // Why this member cannot comment right now ("" when they can); moderators are never limited.
  function limitText() {
    if (moderator) return "";
    if (controls.comments_off) return "この放送ではコメントが停止されています。";
    if (controls.locked) return "ルームはロック中です（閲覧のみ）。";
    if (restriction) {
      if (restriction.until === null) return restriction.message;
      const left = restriction.until - Date.now();
      if (left > 0) {
        return (restriction.code === "banned" ? "コメント禁止中" : "タイムアウト中") + "：あと" + remaining(left) +
          "（" + jstTime(restriction.until, { seconds: true }) + "まで）";
      }
      restriction = null;
    }
    return "";
  }

  function updateForm() {
    const ready = root.dataset.connected === "1" && accepting;
    const limit = accepting ? limitText() : "";
    const slowLeft = !moderator && accepting && !limit ? slowUntil - Date.now() : 0;
    sendButton.disabled = !accepting || !!limit || slowLeft > 0;
    input.disabled = !accepting || !!limit;
    input.placeholder = !accepting ? "現在コメントは受け付けていません" :
      limit ? "コメントできません" : "コメントを入力（" + input.maxLength + "文字まで）";
    const text = limit || (slowLeft > 0 ? "スローモード中：あと" + remaining(slowLeft) + "で送信できます" : "");
    limitBox.textContent = text;
    limitBox.hidden = !text;
    root.dataset.limited = limit ? "1" : "0";
    root.dataset.ready = ready ? "1" : "0";
    const ticking = (restriction && restriction.until !== null) || slowLeft > 0;
    if (ticking && !limitTimer) limitTimer = setInterval(updateForm, 1000);
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
    $("room-pinned-text").textContent = c.pinned_text || "";
    $("room-pinned").hidden = !c.pinned_text;
    $("room-picked").hidden = !c.picked;
    $("room-picked-name").textContent = c.picked ? c.picked.name : "";
    $("room-picked-text").textContent = c.picked ? c.picked.text : "";
    list.querySelectorAll("li.is-picked").forEach((li) => li.classList.remove("is-picked"));
    if (c.picked) {
      const li = list.querySelector('li[data-position="' + c.picked.position + '"]');
      if (li) li.classList.add("is-picked");
    }
    updateForm();
  }

  function setHidden(position, isHidden, item) {
    if (isHidden) hidden[position] = true; else delete hidden[position];
    const li = list.querySelector('li[data-position="' + position + '"]');
    if (moderator) { if (li) li.classList.toggle("is-hidden", isHidden); return; }
    if (isHidden) { if (li) li.remove(); return; }
    if (li || !item || last === null || item.position > last) return;
    // Restored: put it back in position order.
    const next = Array.from(list.querySelectorAll("li[data-position]"))
      .find((other) => parseInt(other.dataset.position, 10) > position) || null;
    list.insertBefore(commentNode(item), next);
  }

  // The label is the server's (BroadcastState.label), sent with every state.
  function setState(state, label, isAccepting) {
    stateBadge.dataset.state = state;
    stateBadge.textContent = label || state;
    accepting = isAccepting;
    updateForm();
  }

  function commentNode(c) {
    const li = el("li");
    li.dataset.position = String(c.position);
    if (c.member_id === memberId) li.className = "mine";
    if (hidden[c.position]) li.classList.add("is-hidden");
    if (controls.picked && controls.picked.position === c.position) li.classList.add("is-picked");
    if (c.member_id !== memberId) {
      li.appendChild(el("button", { type: "button", class: "report", text: "通報", "aria-label": c.name + "さんのコメントを通報" }));
    }
    if (c.question) li.appendChild(el("span", "q", "質問"));
    const at = el("time", "org", jstTime(c.at));
    at.dateTime = c.at;
    li.append(el("span", "who", c.name), el("span", "org", c.organisation), at, el("span", "text", c.text));
    return li;
  }

  function addItems(items) {
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    const fragment = document.createDocumentFragment();
    for (const c of items) {
      if (last !== null && c.position <= last) continue;  // never show one twice
      last = c.position;
      if (hidden[c.position] && !moderator) continue;
      fragment.appendChild(commentNode(c));
    }
    list.appendChild(fragment);
    while (list.children.length > MAX_ITEMS) list.removeChild(list.firstChild);
    root.dataset.last = last === null ? "" : String(last);
    if (nearBottom) list.scrollTop = list.scrollHeight;
  }

  function setReactions(counts) {
    for (const kind of Object.keys(counts)) {
      const counter = root.querySelector('[data-count="' + kind + '"]');
      if (counter) counter.textContent = String(counts[kind]);
    }
  }

  function sendComment(c) {
    return socket.send({ type: "comment", text: c.text, ref: c.ref, question: !!c.question });
  }

  function welcome(m) {
    joined = true;
    socket.ready();
    memberId = m.member_id;
    moderator = !!m.moderator;
    hidden = {};
    (m.hidden || []).forEach((p) => { hidden[p] = true; });
    list.querySelectorAll("li[data-position]").forEach((li) => {
      if (hidden[li.dataset.position]) setHidden(parseInt(li.dataset.position, 10), true);
    });
    if (m.controls) controls = m.controls;
    restriction = null;
    if (m.restriction) setRestriction(m.restriction.code, m.restriction.message, m.restriction.until);
    input.maxLength = m.limits.max_length;
    $("room-max").textContent = String(m.limits.max_length);
    $("room-viewers").textContent = String(m.viewers);
    setReactions(m.reactions);
    setState(m.state, m.state_label, m.state === "open" || m.state === "live");
    setConnected(true);
    applyControls(controls);
  }

  function error(m) {
    if (m.ref) {
      const failed = outbox.find((c) => c.ref === m.ref);
      outbox = outbox.filter((c) => c.ref !== m.ref);
      if (failed && m.code !== "unavailable" && !input.value) { input.value = failed.text; updateCount(); }
      if (failed && m.code === "unavailable") outbox.push(failed);
    }
    if (m.code === "origin_not_allowed") refusal = m.message;
    if (m.code === "invalid_position") { last = null; list.textContent = ""; socket.restart(); }
    if (m.code === "timed_out" || m.code === "banned") setRestriction(m.code, m.message, m.until);
    if (m.code === "slow_mode" && m.retry_after) { slowUntil = Date.now() + m.retry_after * 1000; updateForm(); }
    // A join the server could not serve yet (database unreachable, sync delayed): reconnect with backoff.
    if (m.code === "unavailable" && !m.ref && !joined) socket.restart();
    showError(m.message);
  }

  function onMessage(m) {
    switch (m.type) {
      case "welcome": welcome(m); break;
      case "history":
        addItems(m.items);
        if (m.last_position !== null && (last === null || m.last_position > last)) {
          last = m.last_position;
          root.dataset.last = String(last);
        }
        // Joined: resend whatever was not acknowledged before the connection dropped.
        if (m.last_position !== null) outbox.forEach(sendComment);
        break;
      case "comments": addItems(m.items); break;
      case "ack":
        outbox = outbox.filter((c) => c.ref !== m.ref);
        if (controls.slow_mode_seconds && !moderator) { slowUntil = Date.now() + controls.slow_mode_seconds * 1000; updateForm(); }
        break;
      case "held":
        outbox = outbox.filter((c) => c.ref !== m.ref);
        showError("");
        showNote(m.message);
        break;
      case "visibility": setHidden(m.position, m.hidden, m.item); break;
      case "controls": applyControls(m); break;
      case "restricted":
        setRestriction(m.code, m.message, m.until);
        if (!m.code) showNote(m.message);
        break;
      case "reactions": setReactions(m.counts); break;
      case "presence": $("room-viewers").textContent = String(m.viewers); break;
      case "state": setState(m.state, m.label, m.accepting); break;
      case "error": error(m); break;
      default: break;
    }
  }

  function onStatus(status, info) {
    if (status === "connecting") joined = false;
    if (status === "reconnecting") setConnected(false);
    if (status === "closed") {
      setConnected(false, "切断されました");
      showError(refusal || CLOSED_MESSAGES[info.code] || "");
    }
  }

  function updateCount() { $("room-count").textContent = String(input.value.length); }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) { showError("コメントを入力してください。"); return; }
    if (text.length > input.maxLength) { showError("コメントは" + input.maxLength + "文字以内で入力してください。"); return; }
    showError("");
    const comment = { text: text, ref: newRef(), question: !!(questionBox && questionBox.checked) };
    outbox.push(comment);
    if (questionBox) questionBox.checked = false;
    if (!sendComment(comment)) showError("接続が切れています。再接続後に自動で送信します。");
    input.value = "";
    updateCount();
  });
  input.addEventListener("input", updateCount);

  // Report a comment (any member; moderators see reports on the control page).
  list.addEventListener("click", (event) => {
    const button = event.target.closest("button.report");
    if (!button || button.disabled) return;
    const li = button.closest("li[data-position]");
    if (!window.confirm("このコメントをモデレーターに通報しますか？")) return;
    button.disabled = true;
    const reported = () => { button.textContent = "通報済み"; showNote("通報しました。モデレーターが確認します。"); };
    request("POST", list.dataset.reportUrl, { position: parseInt(li.dataset.position, 10) }).then(reported, (e) => {
      if (e.status === 409) { reported(); return; }  // already reported by this member
      button.disabled = false;
      showError("通報できませんでした（" + e.message + "）。");
    });
  });

  root.querySelectorAll(".reaction").forEach((button) => {
    button.addEventListener("click", () => {
      const now = Date.now();
      reactionTimes = reactionTimes.filter((t) => now - t < 1000);
      if (reactionTimes.length >= 5) return;
      reactionTimes.push(now);
      socket.send({ type: "reaction", kind: button.dataset.kind });
    });
  });

  setConnected(false, "接続中…");
  const socket = connect({
    url: () => socketUrl(root.dataset.wsPath),
    onOpen: (client) => client.send({ type: "join", room: roomId, after: last }),
    onMessage: onMessage,
    onStatus: onStatus,
    manualReady: true,  // the backoff resets on `welcome`: an accepted socket may still be turned away
    base: 300,
    heartbeat: { every: 15000, silence: 35000, message: { type: "ping" } },
  });
}

const root = $("room");
if (root && window.WebSocket) start(root);
