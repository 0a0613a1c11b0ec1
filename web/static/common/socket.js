// The one WebSocket client every page uses: reconnects with capped, fully jittered exponential
// backoff, lets the page resume from its last position on every (re)connect, never retries a
// refusal (4401 logged out, 4403 not allowed), and reports its status for the page to show.
// Each protocol resumes its own way (room: `join` with `after`; Q&A board: `?since=`), so the
// page supplies the URL and the opening message; this module owns the loop around them.

/** Close codes that are answers, not accidents: reconnecting would get the same answer. */
export const REFUSED = Object.freeze([4401, 4403]);

/** An absolute ws:// or wss:// URL for a path on this origin. */
export function socketUrl(path) {
  return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
}

/**
 * Delay before reconnect attempt `attempt` (1, 2, …): uniform in [0, min(cap, base·2^attempt)).
 * Full jitter spreads a crowd of pages that lost the same server, so they do not return in step.
 */
export function backoff(attempt, base = 500, cap = 10000, random = Math.random) {
  return Math.floor(random() * Math.min(cap, base * Math.pow(2, Math.min(attempt, 16))));
}

const decoder = new TextDecoder();

/**
 * Open a self-healing socket.
 *
 * options:
 *   url()             the address to open, read on every attempt (so it can carry `?since=`)
 *   onOpen(client)    sent the resume message (e.g. `join` with `after`)
 *   onMessage(m)      each frame parsed as JSON (text or UTF-8 bytes); unparsable frames are dropped
 *   onStatus(s, info) "connecting" | "open" | "reconnecting" | "closed"; info is {code, reason, delay}
 *                     "closed" is final (a refused code or stop()); the page says why
 *   refused           close codes not retried (default REFUSED)
 *   base, cap         backoff in ms (defaults 500 and 10000)
 *   manualReady       false (default): the first frame of a connection resets the backoff (a server
 *                     that accepts and closes at once, e.g. 4409 too many sockets, still backs off).
 *                     Pages whose server can answer and then turn them away (the room's
 *                     `unavailable`) pass true and call client.ready() once their stream has started.
 *   heartbeat         {every, silence, message}: send `message` every `every` ms and reconnect when
 *                     nothing was received for `silence` ms (a half-open connection never closes)
 */
export function connect(options) {
  const refused = options.refused || REFUSED;
  const base = options.base || 500;
  const cap = options.cap || 10000;
  const manualReady = !!options.manualReady;
  const status = options.onStatus || (() => {});
  let socket = null;
  let attempts = 0;
  let timer = null;
  let stopped = false;
  let lastSeen = 0;

  function open() {
    timer = null;
    if (stopped) return;
    status("connecting", {});
    const ws = new WebSocket(options.url());
    ws.binaryType = "arraybuffer";
    socket = ws;
    ws.onopen = () => {
      if (socket !== ws) return;
      lastSeen = Date.now();
      status("open", {});
      if (options.onOpen) options.onOpen(client);
    };
    ws.onmessage = (event) => {
      if (socket !== ws) return;
      lastSeen = Date.now();
      if (!manualReady) attempts = 0;
      let message;
      try {
        message = JSON.parse(typeof event.data === "string" ? event.data : decoder.decode(event.data));
      } catch (e) {
        return;
      }
      options.onMessage(message);
    };
    ws.onclose = (event) => {
      if (socket !== ws) return;  // dropped on purpose (offline, silence): the drop already decided
      socket = null;
      if (refused.indexOf(event.code) !== -1) {
        stopped = true;
        status("closed", { code: event.code, reason: event.reason });
        return;
      }
      retry({ code: event.code, reason: event.reason });
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  function retry(info) {
    if (stopped) return;
    if (timer) { status("reconnecting", info); return; }
    attempts += 1;
    const delay = backoff(attempts, base, cap);
    status("reconnecting", Object.assign({ delay: delay }, info));
    timer = setTimeout(open, delay);
  }

  function drop() {
    if (!socket) return;
    const ws = socket;
    socket = null;
    ws.close();
  }

  const client = {
    /** Send a JSON message; false when not connected (the page keeps it for after the reconnect). */
    send(message) {
      if (socket && socket.readyState === WebSocket.OPEN) {
        socket.send(JSON.stringify(message));
        return true;
      }
      return false;
    },
    /** The stream is really flowing again: the next failure starts the backoff from the beginning. */
    ready() { attempts = 0; },
    /** Close this connection and reconnect after the backoff (e.g. the server asked to start over). */
    restart(info) { drop(); retry(info || {}); },
    /** Reconnect now if disconnected (network back, tab visible again). */
    now() {
      if (stopped || socket) return;
      if (timer) { clearTimeout(timer); timer = null; }
      attempts = 0;
      open();
    },
    /** Stop for good (page hidden for the back/forward cache, or the page is done with it). */
    stop() {
      stopped = true;
      if (timer) { clearTimeout(timer); timer = null; }
      drop();
    },
    get connected() { return !!socket && socket.readyState === WebSocket.OPEN; },
  };

  if (options.heartbeat) {
    const beat = options.heartbeat;
    setInterval(() => {
      if (!client.connected) return;
      if (Date.now() - lastSeen > beat.silence) { client.restart({ code: 0, reason: "silent" }); return; }
      client.send(beat.message);
    }, beat.every);
  }

  // An offline browser keeps a dead socket open for minutes: drop it now and come back with the network.
  window.addEventListener("offline", () => {
    if (!socket) return;
    drop();
    retry({ code: 0, reason: "offline" });
  });
  window.addEventListener("online", () => client.now());
  document.addEventListener("visibilitychange", () => { if (!document.hidden) client.now(); });
  window.addEventListener("pagehide", (event) => {
    if (timer) { clearTimeout(timer); timer = null; }
    drop();
    if (!event.persisted) stopped = true;
  });
  // Back from the back/forward cache: resume where the page left off.
  window.addEventListener("pageshow", (event) => { if (event.persisted) client.now(); });

  open();
  return client;
}
