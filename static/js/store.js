// The client's copy of one session: frames (full or delta) merged into a snapshot.
// It only records what the server said; nothing here decides an outcome.

const MAX_EVENTS = 6000;
const MAX_POINTS = 400;

export class Store {
  constructor() {
    this.reset();
  }

  reset() {
    this.nodes = new Map();
    this.order = [];
    this.messages = [];
    this.events = [];
    this.gen = (this.gen || 0) + 1; // bumped whenever events are replaced rather than appended
    this.violations = [];
    this.metrics = {};
    this.history = new Map(); // metric -> [[t_ms, value]]
    this.panel = null;
    this.links = { cut: [], groups: null };
    this.caption = null;
    this.busy = null; // long work under way on the server: {op, done}
    this.slowed = null; // {speed}: the session cannot keep up with its speed
    this.notice = null; // why the session stopped by itself (a limit)
    this.script = null; // {diverged_ms, can_return}: where the run left its script
    this.t_ms = 0;
    this.frontier_ms = 0;
    this.duration_ms = 0;
    this.playing = false;
    this.speed = 1;
    this.seq = -1;
    this.at = performance.now();
    this.timerSetAt = new Map(); // "node/timer" -> [due_ms, set_ms]
    this.skipped = 0; // trace records the server left out of frames (too many at once)
  }

  /** Merge one frame; returns the set of parts that changed. */
  apply(f) {
    const changed = new Set(["time"]);
    const back = f.t_ms < this.t_ms;
    if (f.full) {
      this.nodes = new Map();
      this.order = [];
      this.events = [];
      this.skipped = 0;
      this.gen++;
      changed.add("full");
    }
    for (const k of ["t_ms", "frontier_ms", "duration_ms", "playing", "speed", "seq"]) {
      if (f[k] !== undefined) this[k] = f[k];
    }
    this.at = performance.now();
    if (f.nodes) {
      for (const n of f.nodes) {
        const old = this.nodes.get(n.id);
        if (!old) { this.nodes.set(n.id, normalize({ ...n })); this.order.push(n.id); continue; }
        for (const [k, v] of Object.entries(n)) {
          if ((k === "summary" || k === "timers") && isPlain(v) && isPlain(old[k])) old[k] = mergeKeys(old[k], v);
          else old[k] = v;
        }
        normalize(old);
      }
      changed.add("nodes");
    }
    if (f.messages) { this.messages = f.messages; changed.add("messages"); }
    if (f.events_skipped) { this.skipped += f.events_skipped; changed.add("skipped"); }
    if (f.events && f.events.length) {
      const last = this.events.length ? this.events[this.events.length - 1].i : -1;
      for (const raw of f.events) {
        const e = Array.isArray(raw) ? expand(raw) : raw;
        if (e.i > last) this.events.push(e);
      }
      if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
      changed.add("events");
    }
    if (f.full || back) {
      // A seek into the past: forget what has not happened yet at the new time.
      const cut = this.t_ms * 1000;
      const kept = this.events.filter((e) => e.t_us <= cut);
      if (kept.length !== this.events.length) this.gen++;
      this.events = kept;
      for (const pts of this.history.values()) {
        while (pts.length && pts[pts.length - 1][0] > this.t_ms) pts.pop();
      }
      changed.add("events");
    }
    for (const k of ["violations", "links", "caption", "script", "busy", "slowed", "notice"]) {
      if (f[k] !== undefined) { this[k] = f[k]; changed.add(k); }
    }
    if (f.panel !== undefined) {
      this.panel = f.full || !isPlain(this.panel) ? f.panel : mergeKeys(this.panel, f.panel);
      changed.add("panel");
    }
    if (f.metrics) {
      this.metrics = f.full ? f.metrics : mergeKeys(this.metrics, f.metrics);
      this.recordMetrics();
      changed.add("metrics");
    }
    this.trackTimers();
    return changed;
  }

  recordMetrics() {
    for (const [name, value] of Object.entries(this.metrics)) {
      const v = typeof value === "number" ? value
        : value && typeof value === "object" && typeof value.p50 === "number" ? value.p50 : null;
      if (v == null) continue;
      let pts = this.history.get(name);
      if (!pts) this.history.set(name, (pts = []));
      const last = pts[pts.length - 1];
      if (last && last[0] === this.t_ms) last[1] = v;
      else pts.push([this.t_ms, v]);
      if (pts.length > MAX_POINTS) pts.splice(0, pts.length - MAX_POINTS);
    }
  }

  /** Remember when each timer was (re)armed, to draw how much of it has run. */
  trackTimers() {
    for (const [id, n] of this.nodes) {
      for (const tm of n.timerList) {
        const key = `${id}/${tm.name}`;
        const seen = this.timerSetAt.get(key);
        if (!seen || seen[0] !== tm.due_ms) this.timerSetAt.set(key, [tm.due_ms, Math.min(this.t_ms, tm.due_ms)]);
      }
    }
  }

  /** The simulated time now, interpolated between frames while playing. */
  simTime(now = performance.now()) {
    if (!this.playing || typeof this.speed !== "number") return this.t_ms;
    const ahead = Math.min((now - this.at) * this.speed, 120 * this.speed);
    return Math.min(this.t_ms + ahead, this.duration_ms || Infinity);
  }

  node(id) {
    return this.nodes.get(id);
  }

  clock(n, t) {
    if (n.offset_ms == null || n.rate == null) return n.clock_ms;
    return n.offset_ms + n.rate * t;
  }

  cutPairs() {
    if (this._cutFor === this.links) return this._cut;
    this._cutFor = this.links;
    const cut = (this._cut = new Set());
    for (const [a, b] of this.links.cut || []) cut.add(`${a}>${b}`);
    const g = groupsOf(this.links.groups);
    if (g) {
      for (const a of this.order) for (const b of this.order) {
        if (a !== b && (g.get(a) ?? -1) !== (g.get(b) ?? -1)) cut.add(`${a}>${b}`);
      }
    }
    return cut;
  }
}

const isPlain = (v) => v != null && typeof v === "object" && !Array.isArray(v);

/** A flat dict with a keyed delta applied; a key set to null is gone. */
function mergeKeys(old, delta) {
  const out = { ...old };
  for (const [k, v] of Object.entries(delta)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

/** Timers as a list of {name, due_ms}, whether they came as a map or a list. */
function normalize(n) {
  const t = n.timers;
  n.timerList = Array.isArray(t) ? t : isPlain(t) ? Object.entries(t).map(([name, due_ms]) => ({ name, due_ms })) : [];
  return n;
}

const FIELDS = {
  send: ["to", "msg"], deliver: ["from", "msg"], drop: ["from", "msg", "reason"], timer: ["timer"],
  command: ["command"], note: ["text", "fields"], fact: ["text", "fields", "fact"], violation: ["invariant", "detail"], start: [],
};

/** A compact trace record ``[i, t_us, kind, node, cause, ...fields]`` as an object. */
export function expand(r) {
  const e = { i: r[0], t_us: r[1], kind: r[2], node: r[3], cause: r[4] };
  (FIELDS[e.kind] || []).forEach((name, j) => { e[name] = r[5 + j]; });
  return e;
}

/** Partition groups as node -> group number, from either a list of groups or a map. */
export function groupsOf(groups) {
  if (!groups) return null;
  const m = new Map();
  if (Array.isArray(groups)) groups.forEach((g, i) => g.forEach((id) => m.set(id, i)));
  else for (const [id, g] of Object.entries(groups)) m.set(id, g);
  return m;
}
