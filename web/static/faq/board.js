// The live Q&A board: renders pushes from /ws/faq/sessions/{id} (common/socket.js, resuming with
// ?since=<position>), acts through /api/faq/... (common/api.js sends the CSRF header).
import { getJSON, postJSON } from "../common/api.js";
import { el } from "../common/dom.js";
import { REFUSED, connect, socketUrl } from "../common/socket.js";

const root = document.getElementById("board");
if (root) start(root);

function start(root) {
  const sessionId = root.dataset.session;
  const moderator = root.dataset.moderator === "true";
  const categories = JSON.parse(root.dataset.categories || "[]");
  const list = document.getElementById("questions");
  const questions = new Map();
  let position = 0;
  let answeringId = null;
  let sortBy = "votes";
  const openPanels = new Set(); // moderation panels stay open across redraws

  const api = (path, body) => postJSON("/api/faq" + path, body);

  function showError(id, message) {
    const el = document.getElementById(id);
    if (!el) return;
    el.textContent = message;
    el.hidden = !message;
  }

  function act(promise) {
    promise.then(() => showError("board-error", "")).catch((e) => showError("board-error", e.message));
  }

  function moderation(q) {
    const box = el("div", { class: "mod-actions" });
    const id = q.id;
    if (q.status === "pending") box.append(el("button", { type: "button", class: "button button-small", text: "承認", onclick: () => act(api(`/questions/${id}/approve`)) }));
    if (q.status === "open" || q.status === "answered") {
      const now = answeringId === id;
      box.append(el("button", { type: "button", class: "button button-small button-secondary", text: now ? "回答中を解除" : "回答中にする",
        onclick: () => act(api(`/sessions/${sessionId}/answering`, { question_id: now ? null : id })) }));
    }
    if (q.status === "open") box.append(el("button", { type: "button", class: "button button-small button-secondary", text: "回答済みにする", onclick: () => act(api(`/questions/${id}/answered`)) }));
    const details = el("details", { class: "mod-more", open: openPanels.has(id) }, el("summary", { text: "回答・編集・統合・見送り" }));
    details.addEventListener("toggle", () => (details.open ? openPanels.add(id) : openPanels.delete(id)));
    // Written answer.
    const answer = el("textarea", { rows: 3, maxLength: 5000, value: q.answer || "", "data-role": "answer", placeholder: "回答を書く（Markdown可）" });
    details.append(el("div", { class: "mod-row" }, answer,
      el("button", { type: "button", class: "button button-small", text: "回答を送信", onclick: () => act(api(`/questions/${id}/answer`, { answer: answer.value, mark_answered: true })) })));
    // Category and wording.
    const cat = el("select", { "data-role": "category" }, el("option", { value: "", text: "（カテゴリなし）" }), ...categories.map((c) => el("option", { value: c, text: c, selected: c === q.category })));
    details.append(el("div", { class: "mod-row" }, cat,
      el("button", { type: "button", class: "button button-small button-secondary", text: "カテゴリを変更", onclick: () => act(api(`/questions/${id}/edit`, { category: cat.value })) })));
    const body = el("textarea", { rows: 2, maxLength: 1000, value: q.body, "data-role": "body" });
    details.append(el("div", { class: "mod-row" }, body,
      el("button", { type: "button", class: "button button-small button-secondary", text: "文面を保存", onclick: () => act(api(`/questions/${id}/edit`, { body: body.value })) })));
    // Merge into another question of this session.
    const target = el("select", { "data-role": "merge-target" }, el("option", { value: "", text: "統合先を選ぶ" }));
    for (const other of questions.values()) {
      if (other.id !== id && other.status !== "merged" && other.status !== "dismissed") {
        target.append(el("option", { value: String(other.id), text: `#${other.id} ${other.body.slice(0, 30)}` }));
      }
    }
    details.append(el("div", { class: "mod-row" }, target,
      el("button", { type: "button", class: "button button-small button-secondary", text: "この質問を統合", onclick: () => {
        if (!target.value) { showError("board-error", "統合先の質問を選んでください。"); return; }
        act(api(`/questions/${id}/merge`, { into: Number(target.value) }));
      } })));
    // Dismiss with a reason the asker sees.
    const reason = el("input", { type: "text", maxLength: 500, placeholder: "見送りの理由（質問者に表示されます）", "data-role": "reason" });
    details.append(el("div", { class: "mod-row" }, reason,
      el("button", { type: "button", class: "button button-small button-danger", text: "見送る", onclick: () => act(api(`/questions/${id}/dismiss`, { reason: reason.value })) })));
    box.append(details);
    return box;
  }

  function render(q) {
    const classes = ["question", "status-" + q.status];
    if (answeringId === q.id) classes.push("answering");
    if (q.mine) classes.push("mine");
    const voteButton = el("button", {
      type: "button", class: "vote", disabled: q.mine || q.voted || !(q.status === "open" || q.status === "answered"),
      title: q.mine ? "自分の質問には投票できません" : q.voted ? "投票済み" : "この質問に投票",
      onclick: () => act(api(`/questions/${q.id}/vote`)),
    }, el("span", { class: "vote-count", text: String(q.votes) }), el("span", { class: "vote-label", text: q.voted ? "投票済み" : "いいね" }));
    const meta = el("p", { class: "q-meta muted" },
      q.category ? el("span", { class: "chip", text: q.category }) : null, " ",
      el("span", { class: "author", text: q.author }),
      q.askers > 1 ? el("span", { text: `・同じ質問 ${q.askers}人` }) : null,
      " ", el("span", { class: "badge q-status", text: q.status_label }));
    const main = el("div", { class: "q-main" }, meta, el("p", { class: "q-body", text: q.body }));
    if (q.asker_names && q.asker_names.length && moderator) main.append(el("p", { class: "muted small", text: "質問者: " + q.asker_names.join("、") }));
    if (q.merged_bodies && q.merged_bodies.length) {
      main.append(el("details", { class: "merged" }, el("summary", { text: `統合された質問 ${q.merged_bodies.length}件` }),
        el("ul", {}, ...q.merged_bodies.map((b) => el("li", { text: b })))));
    }
    if (q.answer) {
      // answer_html is rendered and sanitised on the server (faq/render.py: markdown-it-py + nh3).
      const body = el("div", { class: "md" });
      body.innerHTML = q.answer_html;
      main.append(el("div", { class: "q-answer" }, el("strong", { text: "回答: " }), body));
    }
    if (q.status === "dismissed" && q.dismiss_reason) main.append(el("p", { class: "q-dismissed", text: "見送りの理由: " + q.dismiss_reason }));
    if (q.status === "merged") main.append(el("p", { class: "muted", text: `この質問は #${q.merged_into_id} に統合されました。` }));
    if (moderator && q.status !== "merged") main.append(moderation(q));
    return el("li", { class: classes.join(" "), id: "q-" + q.id, "data-id": String(q.id), "data-votes": String(q.votes) }, voteButton, main);
  }

  function redraw() {
    const items = [...questions.values()];
    const rank = (q) => (q.status === "pending" ? 0 : q.status === "open" ? 1 : q.status === "answered" ? 2 : 3);
    items.sort((a, b) => {
      if (answeringId === a.id) return -1;
      if (answeringId === b.id) return 1;
      if (rank(a) !== rank(b)) return rank(a) - rank(b);
      if (sortBy === "votes" && a.votes !== b.votes) return b.votes - a.votes;
      return b.id - a.id;
    });
    // Keep what a moderator is typing: only rebuild cards whose content changed.
    const active = document.activeElement;
    if (active && list.contains(active) && /^(TEXTAREA|INPUT|SELECT)$/.test(active.tagName)) return;
    list.replaceChildren(...items.map(render));
    const open = items.filter((q) => q.status === "open" || q.status === "pending").length;
    document.getElementById("board-count").textContent = `（${items.length}件・未回答 ${open}件）`;
    const banner = document.getElementById("answering-now");
    const current = answeringId && questions.get(answeringId);
    banner.hidden = !current;
    banner.replaceChildren(...(current ? [el("strong", { text: "いま回答中: " }), el("span", { text: current.body })] : []));
  }
  list.addEventListener("focusout", (e) => {
    if (!e.relatedTarget || !list.contains(e.relatedTarget)) setTimeout(redraw, 0);
  });
  // Typing a reason or an answer pauses redrawing; leaving the field (or clicking its button) resumes it.

  function applyBoard(m) {
    answeringId = m.answering_id;
    const state = document.getElementById("session-state");
    if (state) {
      state.textContent = m.state_label || m.state;  // SessionState.label, from the server
      state.className = "badge state-" + m.state;
    }
    const premod = document.getElementById("premod-toggle");
    if (premod) premod.checked = m.premoderation;
    // Started or ended from anywhere (another organiser, another tab): the buttons follow the state.
    const start = document.getElementById("start-session");
    if (start) start.hidden = m.state !== "scheduled";
    const end = document.getElementById("end-form");
    if (end) end.hidden = m.state === "ended";
    if (m.state === "ended") {
      const form = document.getElementById("ask-form");
      if (form) form.closest("section").hidden = true;
    }
  }

  function onMessage(m) {
    if (m.type === "snapshot") {
      if (position === 0) questions.clear();
      for (const id of m.removed || []) questions.delete(id);
      for (const q of m.questions) questions.set(q.id, q);
      applyBoard(m);
      position = Math.max(position, m.position);
    } else if (m.type === "question") {
      questions.set(m.question.id, m.question);
      position = m.position;
    } else if (m.type === "removed") {
      questions.delete(m.id);
      position = m.position;
    } else if (m.type === "board") {
      applyBoard(m);
      position = m.position;
    } else if (m.type === "error") {
      showError("board-error", m.message);
      return;
    }
    root.dataset.position = String(position);
    redraw();
  }

  const status = document.getElementById("conn-status");
  function onStatus(state) {
    if (state === "open") { status.textContent = "リアルタイム更新中"; root.dataset.connected = "true"; return; }
    if (state === "connecting") return;
    root.dataset.connected = "false";
    status.textContent = state === "closed" ? "接続できません" : "再接続中…";
  }

  // Sorting.
  for (const button of document.querySelectorAll("[data-sort]")) {
    button.addEventListener("click", () => {
      sortBy = button.dataset.sort;
      for (const b of document.querySelectorAll("[data-sort]")) {
        const on = b === button;
        b.setAttribute("aria-pressed", String(on));
        b.classList.toggle("button-secondary", !on);
      }
      redraw();
    });
  }

  // Asking, with similar answered questions suggested while typing.
  const form = document.getElementById("ask-form");
  if (form) {
    const body = document.getElementById("ask-body");
    const box = document.getElementById("suggestions");
    let timer = null;
    let seq = 0;
    body.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const text = body.value.trim();
        const mine = ++seq;
        if (text.length < 2) { box.hidden = true; return; }
        let items;
        try { items = await getJSON("/api/faq/suggest?q=" + encodeURIComponent(text)); } catch (e) { return; }
        if (mine !== seq) return;
        const ul = box.querySelector("ul");
        ul.replaceChildren(...items.map((s) => {
          const a = el("a", { href: s.url, target: "_blank", rel: "noopener" });
          a.innerHTML = s.question_html; // server-escaped, only <mark> added
          return el("li", {}, a, el("span", { class: "muted", text: " — " + s.document }));
        }));
        box.hidden = items.length === 0;
      }, 300);
    });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        await api(`/sessions/${sessionId}/questions`, {
          body: body.value, category: document.getElementById("ask-category").value,
          anonymous: document.getElementById("ask-anonymous").checked,
        });
        body.value = "";
        box.hidden = true;
        showError("ask-error", "");
      } catch (err) {
        showError("ask-error", err.message);
      } finally {
        button.disabled = false;
      }
    });
  }

  const premod = document.getElementById("premod-toggle");
  if (premod) premod.addEventListener("change", () => act(api(`/sessions/${sessionId}/premoderation`, { on: premod.checked })));
  const start = document.getElementById("start-session");
  if (start) start.addEventListener("click", () => { start.hidden = true; act(api(`/sessions/${sessionId}/start`)); });

  // The server sends every change after `since` (the snapshot's `removed` drops what this viewer may no longer see).
  connect({
    url: () => socketUrl(`/ws/faq/sessions/${sessionId}?since=${position}`),
    onMessage: onMessage,
    onStatus: onStatus,
    refused: REFUSED.concat([4404]),  // the session is gone
    base: 500,
    cap: 10000,
  });
}
