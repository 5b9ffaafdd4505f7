// The client's copy of one session: frames (full or delta) merged into a snapshot.
// It only records what the server said; nothing here decides an outcome.

const MAX_EVENTS = 6000;
const MAX_POINTS = 400;

export class Store {
  constructor() {
    this.reset();
  }

  reset() {
    this.doc = {}; // the session's document, as the frames patched it
    this.nodes = new Map(); // id -> node entry (with its id and timerList)
    this.order = [];
    this.messages = []; // the messages in flight the server shows, oldest first
    this.events = [];
    this.gen = (this.gen || 0) + 1; // bumped whenever events are replaced rather than appended
    this.history = new Map(); // metric -> [[t_ms, value]]
    for (const [k, v] of Object.entries(DEFAULTS)) this[k] = v;
    this.seq = -1;
    this.at = performance.now();
    this.timerSetAt = new Map(); // "node/timer" -> [due_ms, set_ms]
    this.skipped = 0; // trace records the server left out of frames (too many at once)
  }

  /** Merge one frame (a JSON Merge Patch of the session's document, plus the trace
   * records appended since the previous frame); returns the set of parts that changed. */
  apply(f) {
    const changed = new Set(["time"]);
    const { full, events, events_skipped: skippedNow, ...patch } = f;
    const back = patch.t_ms !== undefined && patch.t_ms < this.t_ms;
    if (full) {
      this.doc = {};
      this.nodes = new Map();
      this.events = [];
      this.skipped = 0;
      this.gen++;
      changed.add("full");
    }
    this.doc = mergePatch(this.doc, patch);
    const d = this.doc;
    this.at = performance.now();
    for (const k of Object.keys(full ? { ...DEFAULTS, ...d } : patch)) {
      if (k === "nodes") continue;
      // A fresh object for each patched member: views compare by identity to redraw.
      const v = d[k] ?? DEFAULTS[k] ?? null;
      this[k] = isPlain(v) ? { ...v } : v;
      changed.add(k);
    }
    if (patch.nodes || full) {
      const nodes = d.nodes || {};
      for (const [id, n] of Object.entries(full ? nodes : patch.nodes)) {
        if (n === null) { this.nodes.delete(id); continue; }
        const node = nodes[id];
        node.id = id;
        this.nodes.set(id, normalize(node));
      }
      this.order = Object.keys(nodes);
      changed.add("nodes");
    }
    if (skippedNow) { this.skipped += skippedNow; changed.add("skipped"); }
    if (events && events.length) {
      const last = this.events.length ? this.events[this.events.length - 1].i : -1;
      for (const raw of events) {
        const e = expand(raw);
        if (e.i > last) this.events.push(e);
      }
      if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
      changed.add("events");
    }
    if (full || back) {
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
    if (changed.has("metrics")) this.recordMetrics();
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

/** What a member of the document means while it is absent (null and absent are one). */
const DEFAULTS = {
  t_ms: 0, frontier_ms: 0, duration_ms: 0, playing: false, speed: 1, violations: [],
  metrics: {}, panel: null, links: { cut: [], groups: null, custom: [] }, caption: null,
  busy: null, slowed: null, notice: null, failure: null, script: null, pair: null, messages: [],
  messages_total: null,
};

/** RFC 7396 JSON Merge Patch: ``target`` with ``patch`` applied (an object target is
 * changed in place; a member patched to null is removed). The server's
 * ``serializer.merge_patch`` is the same function. */
export function mergePatch(target, patch) {
  if (!isPlain(patch)) return patch;
  if (!isPlain(target)) target = {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete target[k];
    else target[k] = mergePatch(target[k], v);
  }
  return target;
}

/** A node's timers (name -> due time) also as a list of {name, due_ms}. */
function normalize(n) {
  n.timerList = Object.entries(n.timers || {}).map(([name, due_ms]) => ({ name, due_ms }));
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

/** Partition groups (a list of lists of node ids) as node -> group number. */
export function groupsOf(groups) {
  if (!groups) return null;
  const m = new Map();
  groups.forEach((g, i) => g.forEach((id) => m.set(id, i)));
  return m;
}
