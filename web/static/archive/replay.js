// Chat replay beside an archived recording: shows the comments posted up to the player's
// current time (HTML5 video events or the YouTube IFrame API); without a player clock,
// shows the whole chat in order with timestamps.
import { getJSON } from "../common/api.js";

const root = document.getElementById("replay");
if (root) start(root);

function start(root) {
  const list = root.querySelector(".replay-list");
  const status = root.querySelector(".replay-status");
  const offsetSeconds = Number(root.dataset.offset || "0");
  const sync = root.dataset.sync; // "video" | "youtube" | "none"
  let comments = []; // sorted by ms (time from the live start)
  let shown = 0;

  function clock(ms) {
    const total = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = total % 60;
    const pad = (n) => String(n).padStart(2, "0");
    return (h ? h + ":" + pad(m) : String(m)) + ":" + pad(s);
  }

  function node(c) {
    // textContent only: comment text is never parsed as HTML.
    const li = document.createElement("li");
    li.className = "replay-item";
    li.dataset.position = String(c.position);
    const time = document.createElement("span");
    time.className = "replay-time";
    time.textContent = clock(c.offset_ms + offsetSeconds * 1000);
    const who = document.createElement("span");
    who.className = "replay-author";
    who.textContent = c.author + (c.organisation ? "（" + c.organisation + "）" : "");
    const text = document.createElement("p");
    text.className = "replay-text";
    text.textContent = c.text;
    li.append(time, who, text);
    return li;
  }

  // Number of comments whose time is <= ms (binary search: seeking must be cheap).
  function countUpTo(ms) {
    let lo = 0, hi = comments.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (comments[mid].offset_ms <= ms) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  function showUpTo(videoSeconds) {
    const target = countUpTo((videoSeconds - offsetSeconds) * 1000);
    if (target === shown && root.dataset.shown !== undefined) return;
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    if (target > shown) {
      const frag = document.createDocumentFragment();
      for (let i = shown; i < target; i++) frag.append(node(comments[i]));
      list.append(frag);
    } else {
      while (list.children.length > target) list.lastElementChild.remove();
    }
    shown = target;
    root.dataset.shown = String(shown);
    if (atBottom || target < shown) list.scrollTop = list.scrollHeight;
    status.textContent = shown + " / " + comments.length + " 件のコメント";
  }

  // Without a working player there is no clock to follow: show the whole chat instead.
  let following = true;
  function showAll(reason) {
    following = false;
    showUpTo(Number.MAX_SAFE_INTEGER / 1000);
    status.textContent = comments.length + " 件のコメント（" + reason + "）";
  }

  function followVideo(video) {
    const update = () => following && showUpTo(video.currentTime);
    for (const ev of ["timeupdate", "seeked", "seeking", "play", "pause", "loadedmetadata"]) {
      video.addEventListener(ev, update);
    }
    video.addEventListener("error", () => showAll("録画を読み込めないため全件を表示"));
    if (video.error) showAll("録画を読み込めないため全件を表示");
    else update();
  }

  function followYouTube() {
    const holder = document.getElementById("yt-player");
    let player = null;
    let timer = null;
    const tick = () => player && player.getCurrentTime && showUpTo(player.getCurrentTime());
    window.onYouTubeIframeAPIReady = function () {
      player = new window.YT.Player(holder, {
        videoId: holder.dataset.videoId,
        host: "https://www.youtube-nocookie.com",
        playerVars: { rel: 0 },
        events: {
          onReady: tick,
          onStateChange: function (e) {
            tick();
            clearInterval(timer);
            // The IFrame API has no time events: poll only while playing.
            if (e.data === window.YT.PlayerState.PLAYING) timer = setInterval(tick, 250);
          },
        },
      });
    };
    if (window.YT && window.YT.Player) window.onYouTubeIframeAPIReady();
    showUpTo(0);
    // The IFrame API may be blocked or offline: after 8 s without a player, show everything.
    setTimeout(() => { if (!player) showAll("プレーヤーを読み込めないため全件を表示"); }, 8000);
  }

  getJSON(root.dataset.src)
    .then((data) => {
      comments = data.comments;
      if (sync === "video") {
        followVideo(document.getElementById("archive-video"));
      } else if (sync === "youtube") {
        followYouTube();
      } else {
        showAll("再生位置との同期なし");
      }
      root.dataset.ready = "true";
    })
    .catch(() => {
      status.textContent = "コメントを読み込めませんでした。ページを再読み込みしてください。";
    });
}
