// The Socket.IO link to the server: requests answered through acks, frames pushed.
import { io } from "../vendor/socket.io-client-4.8.4/socket.io.esm.min.js";

const REJOIN_TRIES = 8;
const REJOIN_EVERY_MS = 1500;

export class Connection {
  constructor(onFrame, onStatus) {
    this.session = null;
    this.token = null;
    this.socket = io({ reconnectionDelayMax: 2000 });
    // Deltas carry no session id: after a join, take frames from the first full frame of
    // the joined session on, so a late delta of the previous session is never merged.
    this.synced = false;
    this.socket.on("frame", (f) => {
      if (!f) return;
      if (f.full) this.synced = f.session === this.session;
      if (this.synced) onFrame(f);
    });
    this.socket.on("connect", () => {
      onStatus("connected");
      if (this.session) this.resume();
    });
    this.socket.on("disconnect", () => onStatus("disconnected"));
    this.socket.on("connect_error", () => onStatus("disconnected"));
  }

  /** Join this session again and take frames from its next full frame on: after a
   * reconnect, or when the server says another process runs the session now (``moved``:
   * the takeover is done, one join finds it). ``onRejoin`` gets the answer. */
  async resume(moved = false) {
    this.synced = false;
    const res = await this.rejoin(this.session, moved ? 1 : REJOIN_TRIES);
    if (res.ok && this.onRejoin) this.onRejoin({ ...res, rejoined: true, moved });
  }

  /** Join the same session again after a reconnect. If its server process died, the
   * session is taken over by another one once that process's heartbeat lapses (a few
   * seconds): until then the join is refused or answers "watch", so try again a while. */
  async rejoin(session, tries = REJOIN_TRIES) {
    let res = { ok: false };
    for (let attempt = 0; attempt < tries && this.session === session; attempt++) {
      if (attempt) await new Promise((r) => setTimeout(r, REJOIN_EVERY_MS));
      if (!this.socket.connected || this.session !== session) break;
      res = await this.request("join", this.tokened({}));
      if (res.ok && (!this.token || res.role === "control")) break;
    }
    return res;
  }

  tokened(payload) {
    const p = { session: this.session, ...payload };
    if (this.token) p.token = this.token;
    return p;
  }

  /** Send one request; always resolves to the server's answer or {ok:false, error}. */
  async request(event, payload) {
    try {
      const res = await this.socket.timeout(10000).emitWithAck(event, payload);
      return res && typeof res === "object" ? res : { ok: false, error: "no answer" };
    } catch (err) {
      return { ok: false, error: `the server did not answer '${event}'` };
    }
  }

  async create(scenario, extra = {}) {
    return this.request("create", { scenario, ...extra });
  }

  async join(session, token) {
    if (this.session && this.session !== session) this.request("leave", { session: this.session });
    this.session = session;
    this.token = token || null;
    this.synced = false;
    return this.request("join", this.tokened({}));
  }

  /** Take frames of ``session``, which the server made this client watch (a room moved
   * it); falls back to joining it when no full frame of it comes within ``wait`` ms. */
  adopt(session, wait = 400) {
    this.session = session;
    this.token = null;
    this.synced = false;
    return new Promise((resolve) => {
      const done = (f) => {
        if (!f?.full || f.session !== session) return;
        this.socket.off("frame", done);
        clearTimeout(timer);
        resolve({ ok: true, role: "watch" });
      };
      const timer = setTimeout(() => {
        this.socket.off("frame", done);
        if (this.session === session) resolve(this.request("join", { session }));
        else resolve({ ok: false, error: "another session was chosen meanwhile" });
      }, wait);
      this.socket.on("frame", done);
    });
  }

  control(op, value) {
    const p = { op };
    if (value !== undefined) p.value = value;
    return this.request("control", this.tokened(p));
  }

  act(action) {
    return this.request("act", this.tokened({ action }));
  }
}
