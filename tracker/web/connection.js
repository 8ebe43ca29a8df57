// The websocket client: one connection to /ws, reconnecting with backoff, requests matched to
// replies by `ref`, and everything else (events, snapshots, updates) handed to `onMessage`.

const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 15000;

export class ServerError extends Error {
  constructor(reply) {
    super(reply.message || reply.code || "error");
    this.code = reply.code;
    this.details = reply.details || {};
    this.reply = reply;
  }
}

export class Connection {
  /**
   * @param {string} url ws:// or wss:// URL of the server's /ws
   * @param {{onOpen: function, onMessage: function, onStatus: function}} handlers
   *   onOpen(connection) runs on every (re)connection, before anything else is sent;
   *   onMessage(message) gets each message that answers no pending request;
   *   onStatus(state, detail) with state "connecting" | "open" | "closed".
   */
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    this.ws = null;
    this.pending = new Map(); // ref -> {resolve, reject, keep}
    this.nextRef = 1;
    this.attempt = 0;
    this.timer = null;
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    this._connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000, "page closed");
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  /** Reconnect now (after a close), skipping the rest of the backoff wait. */
  retryNow() {
    if (this.isOpen || (this.ws && this.ws.readyState === WebSocket.CONNECTING)) return;
    clearTimeout(this.timer);
    this._connect();
  }

  _connect() {
    this.handlers.onStatus("connecting", this.attempt ? `attempt ${this.attempt + 1}` : "");
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (err) {
      this._scheduleReconnect(String(err));
      return;
    }
    this.ws = ws;
    ws.addEventListener("open", () => {
      if (ws !== this.ws) return;
      this.attempt = 0;
      this.handlers.onStatus("open", "");
      this.handlers.onOpen(this);
    });
    ws.addEventListener("message", (e) => {
      if (ws !== this.ws) return;
      let message;
      try {
        message = JSON.parse(e.data);
      } catch {
        console.warn("tracker: ignoring a message that is not JSON");
        return;
      }
      this._dispatch(message);
    });
    ws.addEventListener("close", (e) => {
      if (ws !== this.ws) return;
      this.ws = null;
      const lost = new Error("the connection was lost before the server replied");
      lost.code = "disconnected";
      for (const { reject } of this.pending.values()) reject(lost);
      this.pending.clear();
      if (!this.stopped) this._scheduleReconnect(e.reason || (e.code !== 1006 ? `code ${e.code}` : ""));
    });
    // An "error" event is always followed by "close", which does the work.
  }

  _scheduleReconnect(reason) {
    const base = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** this.attempt);
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.attempt += 1;
    this.handlers.onStatus("closed", { reason, retryIn: delay });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this._connect(), delay);
  }

  _dispatch(message) {
    const ref = message.ref;
    if (ref !== undefined && this.pending.has(ref)) {
      const waiter = this.pending.get(ref);
      this.pending.delete(ref);
      if (message.type === "error") waiter.reject(new ServerError(message));
      else waiter.resolve(message);
      if (message.type === "error" || !waiter.passOn) return;
    }
    this.handlers.onMessage(message);
  }

  /** Send without waiting for a reply. Returns false when not connected. */
  send(message) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  /**
   * Send a request and wait for its reply (matched by ref). Rejects with a ServerError for an
   * error reply, or an Error with code "disconnected" when the connection is lost first.
   * With passOn, the reply is also handed to onMessage (snapshots that a subscription needs).
   */
  request(message, { passOn = false } = {}) {
    return new Promise((resolve, reject) => {
      if (!this.isOpen) {
        const err = new Error("not connected to the server");
        err.code = "disconnected";
        reject(err);
        return;
      }
      const ref = `r${this.nextRef++}`;
      this.pending.set(ref, { resolve, reject, passOn });
      this.ws.send(JSON.stringify({ ...message, ref }));
    });
  }
}
