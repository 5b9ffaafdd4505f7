// The playground page: boots a session (new, from a share link, or watched), merges
// frames into the store and draws every view. Views render; the server decides.
import { Connection } from "./connection.js";
import { Store } from "./store.js";
import { ClusterView, RoleColours } from "./cluster.js";
import { SpaceTime } from "./spacetime.js";
import { panelFor } from "./panels/index.js";
import { Controls } from "./controls.js";
import { Actions } from "./actions.js";
import { Side } from "./side.js";
import { Compare } from "./compare.js";
import { Finder } from "./finder.js";
import { Room } from "./room.js";
import { Ask } from "./ask.js";

const boot = JSON.parse(document.getElementById("boot").textContent || "{}");
const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const DEFAULT_PRESET = "raft-election";

class App {
  constructor() {
    this.store = new Store();
    this.role = null;
    this.scenario = null;
    this.models = {};
    this.presets = [];
    this.links = { share: null, watch: null };
    this.dirty = new Set(["full"]);
    this.conn = new Connection((f) => this.onFrame(f), (st) => this.onStatus(st));
    this.conn.onRejoin = (res) => this.onJoined(res);
    this.conn.socket.on("failure", (f) => f?.session === this.conn.session && this.failed(f));
    this.conn.socket.on("resumed", (r) => {
      if (r?.session !== this.conn.session) return;
      if (r.moved) this.conn.resume(true); // this server process's copy stopped: join again
      else this.toast("resumed: its server process stopped, another one runs the session now");
    });
    this.cluster = new ClusterView($("cluster"), {
      node: (id, ev) => this.ask.nodeTapped(id) || this.actions.nodeClicked(id, ev),
      link: (a, b, ev) => this.actions.linkClicked(a, b, ev),
      message: (m) => this.actions.dropMessage(m),
    });
    this.spacetime = new SpaceTime($("spacetime"), (t, i) => this.seek(t, i));
    this.controls = new Controls(this);
    this.actions = new Actions(this);
    this.side = new Side(this);
    this.compare = new Compare(this);
    this.finder = new Finder(this);
    this.room = new Room(this);
    this.ask = new Ask(this);
    this.lastPanel = 0;
    this.lastSide = 0;
    this.sideDirty = new Set();
    const body = document.body.classList;
    if (boot.embed || params.get("embed") === "1") body.add("embed");
    if (boot.lecture || params.get("lecture") === "1") this.controls.setLecture(true);
    requestAnimationFrame((now) => this.loop(now));
  }

  get canControl() {
    return this.role === "control";
  }

  /** A passing message; a sticky one stays until the next (nothing else is on screen). */
  toast(message, isError = false, sticky = false) {
    const el = $("toast");
    el.textContent = message;
    el.className = `toast show${isError ? " error" : ""}`;
    clearTimeout(this.toastTimer);
    if (!sticky) this.toastTimer = setTimeout(() => (el.className = "toast"), isError ? 6000 : 2500);
  }

  async start() {
    const catalogue = this.loadCatalogue();
    if (boot.room) return this.room.follow(boot.room);
    if (boot.watch) return this.open(boot.watch, null);
    const source = boot.share || params.get("preset") || (await catalogue, this.defaultPreset());
    if (!source) return this.toast("no preset to start with", true);
    await this.create(source, !!boot.share);
  }

  async loadCatalogue() {
    const [presets, models] = await Promise.all([getJSON("/api/presets"), getJSON("/api/models")]);
    this.presets = presets || [];
    Object.assign(this.models, models || {});
    this.actions.fillPresets();
    if (this.scenario) {
      this.actions.modelChanged();
      this.side.scenarioChanged();
    }
  }

  /** The landing scenario: a Raft election, or else the first preset there is. */
  defaultPreset() {
    const list = this.presets;
    const pick = list.find((p) => p.name === DEFAULT_PRESET) || list.find((p) => p.model === "raft") || list[0];
    return pick?.name;
  }

  /** Start a new session from a preset name, share string or scenario object, and join it. */
  async create(source, keepUrl = false, extra = {}) {
    const res = await this.conn.create(source, extra);
    if (!res.ok) return this.toast(`Could not start: ${res.error}`, true, keepUrl);
    this.links = { share: abs(res.share_url), watch: abs(res.watch_url) };
    if (!keepUrl) this.followRun(res.share_url, true);
    this.room.leave();
    await this.open(res.session, res.token);
    if (!document.body.classList.contains("embed")) await this.room.present(res.session, res.token);
  }

  /** Watch or control ``session``; ``moved``: the server has made this client watch it
   * already (a room it follows moved to it). */
  async open(session, token, moved = false) {
    this.store.reset();
    this.cluster.selected.clear();
    this.failed(null);
    this.dirty.add("full");
    const res = moved ? await this.conn.adopt(session) : await this.conn.join(session, token);
    if (!res.ok) return this.toast(`Could not join: ${res.error}`, true);
    if (!this.links.watch) this.links.watch = abs(`/w/${session}`);
    this.onJoined(res);
  }

  async onJoined(res) {
    this.role = res.role;
    if (res.models && typeof res.models === "object") Object.assign(this.models, res.models);
    document.body.dataset.role = this.role;
    $("role").textContent = this.role === "control" ? "presenting" : "watching";
    // The export needs the session's token: only its presenter downloads the trace.
    const exportLink = $("export-trace");
    exportLink.hidden = !this.conn.token;
    if (this.conn.token) {
      exportLink.href = `/api/sessions/${this.conn.session}/trace.json?token=${encodeURIComponent(this.conn.token)}`;
    }
    if (res.rejoined) {
      const moved = res.resumed || res.moved;
      this.toast(res.note || (moved ? "resumed: this session now runs on another server process" : "reconnected: the session goes on"));
    } else if (res.note) this.toast(res.note);
    if (res.scenario) await this.setScenario(res.scenario);
  }

  /** The session's scenario (its metadata: model, variant, narrative, links) changed. */
  async setScenario(sc) {
    if (this.scenario && JSON.stringify(sc) === JSON.stringify(this.scenario)) return;
    this.scenario = sc;
    this.cluster.helpers = new Set(sc.helpers || []);
    if (sc.share_url) this.links.share = abs(sc.share_url);
    if (sc.watch_url) this.links.watch = abs(sc.watch_url);
    this.actions.modelChanged();
    this.controls.scenarioChanged();
    this.side.scenarioChanged();
    this.compare.scenarioChanged(sc);
    this.finder.scenarioChanged(sc);
    const model = sc.model;
    if (model && model !== this.modelName) {
      this.modelName = model;
      this.cluster.colours = new RoleColours();
      this.legendKey = null;
      this.panel = null; // the previous model's panel must not draw this model's data
      this.cluster.label = null;
      const panel = await panelFor(model);
      if (this.modelName !== model) return; // another scenario arrived meanwhile
      this.panel = panel;
      this.cluster.label = panel.nodeLabel || null;
      this.panelPending = true;
    }
  }

  /** The address bar follows the run: after every action it holds the share link of
   * what is on screen, so a reload or a copied address reproduces it. */
  followRun(url = this.links.share, force = false) {
    if (!url || document.body.classList.contains("embed") || (!force && !this.canControl)) return;
    const path = new URL(url, location.href).pathname;
    if (path !== location.pathname) history.replaceState(null, "", path + location.search);
  }

  onStatus(st) {
    document.body.dataset.conn = st;
    if (st === "disconnected") this.toast("connection lost; reconnecting…", true);
  }

  onFrame(f) {
    const changed = this.store.apply(f);
    for (const k of changed) this.dirty.add(k);
    const st = this.store;
    if (changed.has("share_url") && st.share_url) {
      this.links.share = abs(st.share_url);
      this.followRun();
    }
    if (changed.has("scenario") && st.scenario) this.setScenario(st.scenario);
    if (changed.has("failure")) this.failed(st.failure);
    if (changed.has("caption")) {
      this.controls.captionChanged(st.caption);
      this.ask.captionChanged(st.caption);
    }
  }

  /** The session's simulation raised: say so, with the link that reproduces it. */
  failed(failure) {
    $("failure").hidden = !failure;
    if (!failure) return;
    $("failure-text").textContent = `The simulation failed at ${failure.at_ms} ms: ${failure.error}`;
    $("replay").href = abs(failure.replay_url);
  }

  control(op, value) {
    if (!this.canControl) return this.toast("this page is watching; only the presenter controls the session", true);
    return this.conn.control(op, value).then((res) => {
      if (!res.ok) this.toast(res.error, true);
      return res;
    });
  }

  async act(action, done) {
    if (!this.canControl) return this.toast("this page is watching; only the presenter can act", true);
    const res = await this.conn.act(action);
    if (!res.ok) this.toast(res.error, true);
    else {
      if (res.share_url) {
        this.links.share = abs(res.share_url);
        this.followRun();
      }
      this.toast(done || `${action.type} at ${res.at_ms ?? ""} ms`);
    }
    return res;
  }

  seek(t_ms, eventIndex) {
    if (eventIndex != null && !Number.isNaN(eventIndex)) this.inspect(eventIndex);
    const t = Math.max(0, Math.min(t_ms, this.store.frontier_ms || t_ms));
    return this.control("seek", t);
  }

  /** Which colour is which role or phase, for the roles on screen. */
  legend() {
    const roles = [...new Set(this.store.order.map((id) => this.store.node(id).role).filter(Boolean))];
    const key = roles.join("|");
    if (key === this.legendKey) return;
    this.legendKey = key;
    $("legend").replaceChildren(...roles.map((r) => {
      const el = document.createElement("span");
      el.style.setProperty("--c", this.cluster.colours.of(r));
      el.textContent = r;
      return el;
    }));
  }

  /** Mark a trace record on the diagram and show it in full (a message with its body). */
  async inspect(i) {
    this.spacetime.mark(i);
    const res = await this.conn.request("inspect", { session: this.conn.session, event: i });
    const box = $("inspected");
    if (!res.ok) { box.hidden = true; return; }
    const r = res.record;
    box.hidden = false;
    box.textContent = `#${r.i} at ${r.t_us / 1000} ms, ${r.kind} ${r.node ?? ""}` +
      (r.body !== undefined ? ` → ${r.to}: ${r.msg} ${JSON.stringify(r.body)}` : "") +
      (r.text ? `: ${r.text} ${JSON.stringify(r.fields || {})}` : "") +
      (r.command ? `: ${JSON.stringify(r.command)}` : "") + (r.invariant ? `: ${r.invariant}: ${r.detail}` : "");
  }

  loop(now) {
    const store = this.store;
    const t = store.simTime(now);
    const dirty = this.dirty;
    this.dirty = new Set();
    if (store.order.length) {
      this.cluster.render(store, t);
      this.spacetime.render(store, t);
    }
    this.controls.render(t, dirty);
    this.compare.render(now, t);
    for (const k of dirty) this.sideDirty.add(k);
    if (this.sideDirty.size && now - this.lastSide > 250) {
      this.side.render(this.sideDirty);
      this.sideDirty = new Set();
      this.lastSide = now;
    }
    if (dirty.size) {
      this.room.render();
      $("watch").dataset.url = this.links.watch || "";
    }
    if (dirty.has("skipped") || dirty.has("full")) {
      $("st-skipped").textContent = this.store.skipped
        ? `· ${this.store.skipped} records came too fast to draw (slow down to see them all)` : "";
    }
    if (dirty.has("full")) {
      this.actions.fillClient();
      this.legend();
      // The space-time diagram grows a little with its lanes, up to 30% of the window
      // (in lecture mode a fifth of it: the ring comes first).
      const n = store.order.length;
      const height = document.body.classList.contains("lecture")
        ? Math.min(innerHeight * 0.24, Math.max(innerHeight * 0.2, 40 + 14 * n))
        : Math.max(200, Math.min(60 + 9 * n, innerHeight * 0.3));
      document.querySelector(".layout").style.setProperty("--st-height", `${Math.round(height)}px`);
    }
    else if (dirty.has("nodes")) this.legend();
    const panelDue = dirty.has("panel") || dirty.has("nodes") || dirty.has("full");
    if (panelDue) this.panelPending = true;
    if (this.panelPending && this.panel && now - this.lastPanel > 200) {
      this.panelPending = false;
      this.lastPanel = now;
      try {
        this.panel.render($("panel"), store, t);
      } catch (err) {
        console.error("model panel failed", err);
      }
    }
    requestAnimationFrame((n) => this.loop(n));
  }
}

async function getJSON(url) {
  try {
    const r = await fetch(url);
    return r.ok ? r.json() : null;
  } catch {
    return null;
  }
}

const abs = (u) => (u ? new URL(u, location.href).href : null);

const app = new App();
window.playground = app;
app.start();
