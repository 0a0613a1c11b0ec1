// Host control page: the room feed as a moderator (common/socket.js, join with control=true) plus
// the moderation JSON API (common/api.js). Protocol: docs/protocol.md.
import { request } from "../common/api.js";
import { byId as $, el, jstTime } from "../common/dom.js";
import { connect, socketUrl } from "../common/socket.js";

const root = $("control");
if (root && window.WebSocket) start(root);

function start(root) {
  const roomId = parseInt(root.dataset.roomId, 10);
  const api = root.dataset.api;
  const siteModerator = root.dataset.siteModerator === "1";
  const feed = $("c-feed"), statusBox = $("c-status"), conn = $("c-conn");
  const menuTemplate = $("c-menu-template");
  let last = null;
  let hidden = {};
  let controls = {};
  const MAX_ITEMS = 1000;

  function call(method, path, body) { return request(method, api + path, body); }

  function say(text, ok) {
    statusBox.textContent = text || "";
    statusBox.dataset.ok = ok ? "1" : "0";
  }

  function act(method, path, body, done) {
    return call(method, path, body).then(function (data) {
      if (done) { say(done, true); }
      scheduleRefresh(["audit"]);
      return data;
    }).catch(function (e) { say(e.message, false); throw e; });
  }

  function button(label, handler, className) {
    const b = el("button", "button button-small " + (className || ""), label);
    b.type = "button";
    b.addEventListener("click", function () { handler(b); });
    return b;
  }

  function jst(iso, withDate) { return jstTime(iso, { seconds: true, date: !!withDate }); }

  // --- the live feed --------------------------------------------------------------------

  function commentNode(c) {
    const li = el("li");
    li.dataset.position = String(c.position);
    li.dataset.member = String(c.member_id);
    li.dataset.name = c.name;
    const head = el("div", "c-head");
    head.appendChild(el("span", "who", c.name));
    head.appendChild(el("span", "org", c.organisation));
    head.appendChild(el("time", "org", jst(c.at)));
    if (c.question) { head.appendChild(el("span", "badge badge-question", "質問")); }
    head.appendChild(el("span", "badge badge-hidden", "非表示中"));
    const menu = menuTemplate.content.firstElementChild.cloneNode(true);
    head.appendChild(menu);
    li.appendChild(head);
    li.appendChild(el("span", "text", c.text));
    if (hidden[c.position]) { li.classList.add("is-hidden"); }
    return li;
  }

  function addItems(items) {
    const nearBottom = feed.scrollHeight - feed.scrollTop - feed.clientHeight < 80;
    let newQuestion = false;
    items.forEach(function (c) {
      if (last !== null && c.position <= last) { return; }
      last = c.position;
      feed.appendChild(commentNode(c));
      if (c.question) { newQuestion = true; }
    });
    while (feed.children.length > MAX_ITEMS) { feed.removeChild(feed.firstChild); }
    if (nearBottom) { feed.scrollTop = feed.scrollHeight; }
    if (newQuestion) { scheduleRefresh(["questions"]); }
  }

  function markHidden(position, isHidden) {
    if (isHidden) { hidden[position] = true; } else { delete hidden[position]; }
    const li = feed.querySelector('li[data-position="' + position + '"]');
    if (li) { li.classList.toggle("is-hidden", isHidden); }
  }

  feed.addEventListener("click", function (event) {
    const target = event.target.closest("[data-act]");
    if (!target) { return; }
    const li = target.closest("li[data-position]");
    let position = parseInt(li.dataset.position, 10);
    const memberId = parseInt(li.dataset.member, 10);
    const name = li.dataset.name;
    const details = target.closest("details");
    if (details) { details.open = false; }
    commentAction(target.dataset.act, position, memberId, name, li);
  });

  function commentAction(kind, position, memberId, name, li) {
    if (kind === "hide") {
      act("POST", "/comments/" + position + "/hide", { reason: "" }, "コメント #" + position + " を非表示にしました。")
        .then(function () { markHidden(position, true); }).catch(function () {});
    } else if (kind === "restore") {
      act("POST", "/comments/" + position + "/restore", { reason: "" }, "コメント #" + position + " を再表示しました。")
        .then(function () { markHidden(position, false); }).catch(function () {});
    } else if (kind === "pick") {
      act("POST", "/controls", { picked_position: position }, "質問をピックアップしました。").catch(function () {});
    } else if (kind === "timeout") {
      const seconds = parseInt(li.querySelector('[data-role="seconds"]').value, 10);
      act("POST", "/timeout", { member_id: memberId, seconds: seconds, reason: "" }, name + " さんをタイムアウトしました。")
        .then(function () { scheduleRefresh(["sanctions"]); }).catch(function () {});
    } else if (kind === "ban-program" || kind === "ban-site") {
      const scope = kind === "ban-site" ? "site" : "program";
      const where = scope === "site" ? "すべての放送" : "この番組";
      if (!window.confirm(name + " さんを" + where + "で禁止しますか？")) { return; }
      act("POST", "/ban", { member_id: memberId, scope: scope, reason: "" }, name + " さんを" + where + "で禁止しました。")
        .then(function () { scheduleRefresh(["sanctions"]); }).catch(function () {});
    } else if (kind === "lift") {
      act("POST", "/lift", { member_id: memberId, reason: "" }, name + " さんの制限を解除しました。")
        .then(function () { scheduleRefresh(["sanctions"]); }).catch(function () {});
    }
  }

  // --- controls ---------------------------------------------------------------------------

  function applyControls(c) {
    controls = c;
    $("c-slow").value = String(c.slow_mode_seconds);
    if ($("c-slow").value !== String(c.slow_mode_seconds)) { addOption($("c-slow"), c.slow_mode_seconds, c.slow_mode_seconds + "秒に1件"); }
    $("c-delay").value = String(c.delay_seconds);
    if ($("c-delay").value !== String(c.delay_seconds)) { addOption($("c-delay"), c.delay_seconds, c.delay_seconds + "秒"); }
    $("c-locked").checked = c.locked;
    $("c-off").checked = c.comments_off;
    if (document.activeElement !== $("c-pin")) { $("c-pin").value = c.pinned_text; }
    const picked = $("c-picked");
    picked.textContent = "";
    if (c.picked) {
      picked.className = "c-picked";
      picked.appendChild(el("strong", null, c.picked.name + "："));
      picked.appendChild(document.createTextNode(c.picked.text));
    } else {
      picked.className = "muted";
      picked.textContent = "なし";
    }
    $("c-unpick").hidden = !c.picked;
    root.dataset.slow = String(c.slow_mode_seconds);
    root.dataset.locked = c.locked ? "1" : "0";
  }

  function addOption(select, value, label) {
    const option = el("option", null, label);
    option.value = String(value);
    select.appendChild(option);
    select.value = String(value);
  }

  root.querySelectorAll("[data-control]").forEach(function (input) {
    input.addEventListener("change", function () {
      const body = {};
      const key = input.dataset.control;
      body[key] = input.type === "checkbox" ? input.checked : parseInt(input.value, 10);
      act("POST", "/controls", body, "設定を変更しました。").then(applyControlsFromApi).catch(function () {
        applyControls(controls);
      });
    });
  });

  function applyControlsFromApi(data) {
    // The API answers without the picked comment's text; keep what the room sent.
    data.picked = data.picked_position === controls.picked_position ? controls.picked : controls.picked;
    applyControls(data);
  }

  $("c-pin-form").addEventListener("submit", function (event) {
    event.preventDefault();
    act("POST", "/controls", { pinned_text: $("c-pin").value }, "お知らせを固定しました。").catch(function () {});
  });
  $("c-unpin").addEventListener("click", function () {
    $("c-pin").value = "";
    act("POST", "/controls", { pinned_text: "" }, "お知らせを解除しました。").catch(function () {});
  });
  $("c-unpick").addEventListener("click", function () {
    act("POST", "/controls", { picked_position: 0 }, "ピックアップを解除しました。").catch(function () {});
  });

  root.querySelectorAll("[data-state-to]").forEach(function (b) {
    b.addEventListener("click", function () {
      const to = b.dataset.stateTo;
      if (to === "ended" && !window.confirm("放送を終了しますか？")) { return; }
      act("POST", "/state", { state: to }).then(function (data) {
        setState(data.state, data.label);
        say(data.changed ? "状態を「" + data.label + "」にしました。" : "既に「" + data.label + "」です。", true);
      }).catch(function () {});
    });
  });

  function setState(state, label) {
    const badge = $("c-state");
    badge.dataset.state = state;
    badge.textContent = label || state;  // the server's label (BroadcastState.label)
  }

  // --- lists from the API -----------------------------------------------------------------

  function fill(list, rows, render, empty) {
    list.textContent = "";
    if (!rows.length) { list.appendChild(el("li", "muted", empty)); return; }
    rows.forEach(function (row) { list.appendChild(render(row)); });
  }

  const loaders = {
    questions: function () {
      return call("GET", "/questions").then(function (rows) {
        $("c-q-count").textContent = String(rows.length);
        fill($("c-questions"), rows.slice().reverse(), function (c) {
          const li = el("li");
          li.dataset.position = String(c.position);
          if (controls.picked_position === c.position) { li.className = "is-picked"; }
          li.appendChild(el("strong", null, c.name));
          li.appendChild(el("span", "org", " " + c.organisation));
          li.appendChild(el("p", "c-text", c.text));
          li.appendChild(button("ピックアップ", function () {
            act("POST", "/controls", { picked_position: c.position }, "質問をピックアップしました。").catch(function () {});
          }));
          li.appendChild(button("非表示", function () { commentAction("hide", c.position, c.member_id, c.name, li); }, "button-secondary"));
          return li;
        }, "質問はまだありません。");
      });
    },
    held: function () {
      return call("GET", "/held").then(function (rows) {
        $("c-held-count").textContent = String(rows.length);
        fill($("c-held"), rows, function (h) {
          const li = el("li");
          li.dataset.held = String(h.id);
          li.appendChild(el("strong", null, h.name));
          li.appendChild(el("span", "org", " 「" + h.matched_word + "」に一致"));
          li.appendChild(el("p", "c-text", h.text));
          li.appendChild(button("承認", function () {
            act("POST", "/held/" + h.id + "/approve", undefined, "承認してルームに表示しました。")
              .finally(function () { scheduleRefresh(["held"]); }).catch(function () {});
          }));
          li.appendChild(button("却下", function () {
            act("POST", "/held/" + h.id + "/reject", undefined, "却下しました。")
              .finally(function () { scheduleRefresh(["held"]); }).catch(function () {});
          }, "button-secondary"));
          return li;
        }, "確認待ちのコメントはありません。");
      });
    },
    reports: function () {
      return call("GET", "/reports").then(function (rows) {
        $("c-report-count").textContent = String(rows.length);
        fill($("c-reports"), rows, function (r) {
          const li = el("li");
          const c = r.comment;
          li.appendChild(el("strong", null, "#" + r.position + " " + (c ? c.name : "")));
          li.appendChild(el("p", "c-text", c ? c.text : "（コメントが見つかりません）"));
          li.appendChild(el("p", "org", "通報: " + r.reporter + (r.reason ? "（" + r.reason + "）" : "") + " " + jst(r.at)));
          if (c) {
            li.appendChild(button("非表示", function () { commentAction("hide", r.position, c.member_id, c.name, li); }, "button-secondary"));
          }
          li.appendChild(button("対応済み", function () {
            act("POST", "/reports/" + r.id + "/handled", undefined, "通報を対応済みにしました。")
              .finally(function () { scheduleRefresh(["reports"]); }).catch(function () {});
          }));
          return li;
        }, "未対応の通報はありません。");
      });
    },
    sanctions: function () {
      return call("GET", "/sanctions").then(function (rows) {
        fill($("c-sanctions"), rows, function (s) {
          const li = el("li");
          li.appendChild(el("strong", null, s.name));
          // The server's label (Sanction.label: kind and scope), never a copy here.
          li.appendChild(el("span", "org", " " + s.label + (s.until ? " " + jst(s.until, true) + "まで" : "")));
          li.appendChild(button("解除", function () {
            act("POST", "/lift", { member_id: s.member_id, reason: "" }, s.name + " さんの制限を解除しました。")
              .finally(function () { scheduleRefresh(["sanctions"]); }).catch(function () {});
          }, "button-secondary"));
          return li;
        }, "制限中のメンバーはいません。");
      });
    },
    words: function () {
      return call("GET", "/words").then(function (rows) {
        fill($("c-words"), rows, function (w) {
          const li = el("li");
          li.appendChild(el("strong", null, w.word));
          li.appendChild(el("span", "org", " " + w.label + (w.site_wide ? "・サイト全体" : "")));
          if (!w.site_wide || siteModerator) {
            li.appendChild(button("削除", function () {
              act("DELETE", "/words/" + w.id, undefined, "禁止ワードを削除しました。")
                .finally(function () { scheduleRefresh(["words"]); }).catch(function () {});
            }, "button-secondary"));
          }
          return li;
        }, "禁止ワードはありません。");
      });
    },
    audit: function () {
      return call("GET", "/audit?limit=100").then(function (rows) {
        fill($("c-audit"), rows, function (a) {
          const li = el("li");
          li.dataset.action = a.action;
          li.appendChild(el("time", "org", jst(a.at)));
          li.appendChild(el("span", null, " " + (a.actor || "システム") + "：" + a.label));
          if (a.target) { li.appendChild(el("span", null, " → " + a.target)); }
          if (a.target_position) { li.appendChild(el("span", "org", " #" + a.target_position)); }
          let detail = "";
          try {
            const d = JSON.parse(a.detail || "{}");
            if (d.seconds !== undefined) { detail = d.seconds + "秒"; }
            if (d.on !== undefined) { detail = d.on ? "オン" : "オフ"; }
            if (d.word) { detail = "「" + d.word + "」"; }
            if (d.text !== undefined && a.action === "pin") { detail = d.text ? "「" + d.text + "」" : "解除"; }
            if (d.scope) { detail = d.scope === "site" ? "全放送" : "この番組"; }
          } catch (e) { detail = ""; }
          if (detail) { li.appendChild(el("span", "org", " " + detail)); }
          if (a.reason) { li.appendChild(el("span", "org", " 理由: " + a.reason)); }
          return li;
        }, "まだ操作はありません。");
      });
    },
    viewers: function () {
      return call("GET", "/viewers").then(drawSpark);
    }
  };

  let pendingRefresh = {}, refreshTimer = null;
  function scheduleRefresh(kinds) {
    kinds.forEach(function (k) { pendingRefresh[k] = true; });
    if (refreshTimer) { return; }
    refreshTimer = setTimeout(function () {
      refreshTimer = null;
      const todo = Object.keys(pendingRefresh);
      pendingRefresh = {};
      todo.forEach(function (k) {
        loaders[k]().catch(function (e) { say(e.message, false); });
      });
    }, 150);
  }

  function drawSpark(samples) {
    const svg = $("c-spark");
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    const label = $("c-spark-label");
    if (!samples.length) { label.textContent = "記録なし"; return; }
    const values = samples.map(function (s) { return s.viewers; });
    const max = Math.max.apply(null, values.concat([1]));
    const n = values.length;
    const points = values.map(function (v, i) {
      const x = n === 1 ? 200 : (i / (n - 1)) * 200;
      const y = 38 - (v / max) * 36;
      return x.toFixed(1) + "," + y.toFixed(1);
    });
    const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    line.setAttribute("points", (n === 1 ? "0," + points[0].split(",")[1] + " " : "") + points.join(" "));
    line.setAttribute("class", "spark-line");
    svg.appendChild(line);
    label.textContent = "最大" + max + "人・" + jst(samples[0].at) + "から";
  }

  // --- the WebSocket ------------------------------------------------------------------------

  function onMessage(m) {
    switch (m.type) {
      case "welcome":
        socket.ready();
        hidden = {};
        m.hidden.forEach(function (p) { hidden[p] = true; });
        feed.querySelectorAll("li[data-position]").forEach(function (li) {
          li.classList.toggle("is-hidden", !!hidden[li.dataset.position]);
        });
        applyControls(m.controls);
        setState(m.state, m.state_label);
        $("c-viewers").textContent = String(m.viewers);
        conn.hidden = true;
        root.dataset.connected = "1";
        break;
      case "history":
      case "comments":
        addItems(m.items);
        if (m.type === "history" && m.last_position !== null && (last === null || m.last_position > last)) { last = m.last_position; }
        break;
      case "visibility":
        markHidden(m.position, m.hidden);
        scheduleRefresh(["questions"]);
        break;
      case "controls":
        applyControls(m);
        scheduleRefresh(["questions"]);
        break;
      case "presence":
        $("c-viewers").textContent = String(m.viewers);
        break;
      case "state":
        setState(m.state, m.label);
        break;
      case "mod":
        const kinds = ["audit"];
        if (m.kind === "held") { kinds.push("held"); }
        if (m.kind === "report") { kinds.push("reports"); }
        if (m.kind === "restricted") { kinds.push("sanctions"); }
        if (m.kind === "words") { kinds.push("words"); }
        scheduleRefresh(kinds);
        break;
      case "error":
        say(m.message, false);
        break;
      default:
        break;
    }
  }

  function onStatus(status) {
    if (status === "open" || status === "connecting") { return; }  // "welcome" says connected
    root.dataset.connected = "0";
    conn.hidden = false;
    conn.textContent = status === "closed" ? "切断されました" : "再接続中…";
  }

  $("c-say").addEventListener("submit", function (event) {
    event.preventDefault();
    const input = $("c-say-text");
    const text = input.value.trim();
    if (!text) { return; }
    if (socket.send({ type: "comment", text: text, ref: "h" + Date.now().toString(36) + Math.random().toString(36).slice(2, 8) })) {
      input.value = "";
    } else {
      say("接続が切れています。再接続後にもう一度送信してください。", false);
    }
  });

  $("c-word-form").addEventListener("submit", function (event) {
    event.preventDefault();
    const site = $("c-word-site");
    act("POST", "/words", {
      word: $("c-word").value, action: $("c-word-action").value, site_wide: !!(site && site.checked)
    }, "禁止ワードを追加しました。").then(function () {
      $("c-word").value = "";
      scheduleRefresh(["words"]);
    }).catch(function () {});
  });

  setInterval(function () { scheduleRefresh(["viewers"]); }, 30000);

  scheduleRefresh(["questions", "held", "reports", "sanctions", "words", "audit", "viewers"]);
  const socket = connect({
    url: function () { return socketUrl(root.dataset.wsPath); },
    onOpen: function (client) { client.send({ type: "join", room: roomId, after: last, control: true }); },
    onMessage: onMessage,
    onStatus: onStatus,
    manualReady: true,  // the backoff resets on `welcome`
    base: 300,
    heartbeat: { every: 15000, silence: 35000, message: { type: "ping" } },
  });
}
