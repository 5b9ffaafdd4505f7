// The space-time diagram: one lane per node, time to the right, messages as arrows from
// send to delivery (or to the drop), faults and notes marked. Elements are drawn in
// absolute time inside one group that slides as time advances; clicking one seeks there.
import { s, attrs, hue, fmtMs } from "./dom.js";

const LEFT = 54;
const FAULTS = new Set(["crash", "restart", "pause", "resume", "cut", "heal", "partition", "drop",
  "link", "network", "skew", "drift", "jump"]);

export class SpaceTime {
  constructor(svg, onSeek) {
    this.svg = svg;
    this.onSeek = onSeek;
    this.windowMs = 1000;
    this.els = new Map();
    this.key = "";
    svg.append(s("defs", {},
      s("marker", { id: "st-arrow", viewBox: "0 0 8 8", refX: 7, refY: 4, markerWidth: 6, markerHeight: 6, orient: "auto" },
        s("path", { d: "M0,0L8,4L0,8z", fill: "context-stroke" })),
      s("clipPath", { id: "st-clip" }, this.clipRect = s("rect", { x: LEFT, y: 0 }))));
    this.bands = s("g", { class: "bands" });
    this.lanes = s("g", { class: "lanes" });
    this.content = s("g", { class: "content" });
    this.live = s("g", { class: "inflight" });
    const clip = s("g", { "clip-path": "url(#st-clip)" }, this.bands, this.content, this.live);
    this.now = s("line", { class: "nowline" });
    this.labels = s("g", { class: "labels" });
    svg.append(this.lanes, clip, this.now, this.labels);
    svg.addEventListener("click", (ev) => {
      const el = ev.target.closest("[data-t]");
      if (el) this.onSeek(Number(el.dataset.t), Number(el.dataset.i));
    });
  }

  zoom(factor) {
    this.windowMs = Math.max(20, Math.min(600000, this.windowMs * factor));
    this.key = "";
  }

  geometry(store) {
    const w = Math.max(200, this.svg.clientWidth || 800);
    const hgt = Math.max(60, this.svg.clientHeight || 200);
    const n = Math.max(1, store.order.length);
    const lane = Math.max(7, Math.min(34, (hgt - 26) / n));
    return { w, hgt, lane, k: (w - LEFT - 12) / this.windowMs };
  }

  /** Draw at simulated time ``t``; rebuild elements only when events or layout changed. */
  render(store, t, eventsChanged) {
    const g = this.geometry(store);
    const key = `${g.w}x${g.hgt}/${this.windowMs}/${store.order.join(",")}`;
    if (key !== this.key) {
      this.key = key;
      this.els.clear();
      this.content.replaceChildren();
      this.svg.setAttribute("viewBox", `0 0 ${g.w} ${g.hgt}`);
      attrs(this.clipRect, { width: g.w - LEFT, height: g.hgt });
      this.lanes.replaceChildren(...store.order.map((id, i) => s("line", { x1: LEFT, x2: g.w,
        y1: 14 + (i + 0.5) * g.lane, y2: 14 + (i + 0.5) * g.lane })));
      this.labels.replaceChildren(s("rect", { width: LEFT - 2, height: g.hgt, class: "labelbg" }),
        ...store.order.map((id, i) => s("text", { x: 6, y: 14 + (i + 0.5) * g.lane, dy: "0.35em",
          "font-size": Math.min(13, g.lane * 0.9) }, id)));
      eventsChanged = true;
    }
    this.g = g;
    const laneY = new Map(store.order.map((id, i) => [id, 14 + (i + 0.5) * g.lane]));
    const t0 = t - this.windowMs;
    if (eventsChanged) this.build(store, laneY, g.k, t0 - this.windowMs);
    const shift = LEFT + 4 - t0 * g.k;
    attrs(this.content, { transform: `translate(${shift.toFixed(2)},0)` });
    attrs(this.bands, { transform: `translate(${shift.toFixed(2)},0)` });
    attrs(this.now, { x1: g.w - 8, x2: g.w - 8, y1: 0, y2: g.hgt });
    // Messages in flight: from their send to where they are now.
    this.live.replaceChildren(...store.messages.filter((m) => laneY.has(m.from) && laneY.has(m.to))
      .map((m) => {
        const span = m.due_ms - m.sent_ms;
        const p = span > 0 ? Math.max(0, Math.min(1, (t - m.sent_ms) / span)) : 1;
        const y1 = laneY.get(m.from), y2 = y1 + (laneY.get(m.to) - y1) * p;
        return s("line", { class: "arrow flying", x1: shift + m.sent_ms * g.k, y1,
          x2: shift + Math.min(t, m.due_ms) * g.k, y2, stroke: `hsl(${hue(m.kind)} 70% 45%)` });
      }));
  }

  build(store, laneY, k, from) {
    const fromUs = from * 1000;
    const events = store.events;
    const sends = new Map();
    const keep = new Set();
    const add = (key, make) => {
      keep.add(key);
      if (!this.els.has(key)) {
        const el = make();
        this.els.set(key, el);
        this.content.append(el);
      }
    };
    let firstIdx = events.findIndex((e) => e.t_us >= fromUs);
    if (firstIdx < 0) firstIdx = events.length;
    for (const e of events) if (e.kind === "send") sends.set(e.i, e);
    for (let j = firstIdx; j < events.length; j++) {
      const e = events[j];
      const x = (e.t_us / 1000) * k, y = laneY.get(e.node);
      const t = e.t_us / 1000;
      if ((e.kind === "deliver" || e.kind === "drop") && sends.has(e.cause)) {
        const snd = sends.get(e.cause);
        const y0 = laneY.get(snd.node);
        if (y0 == null || y == null) continue;
        add(`m${e.i}`, () => {
          const col = `hsl(${hue(snd.msg)} 70% 45%)`;
          const x0 = (snd.t_us / 1000) * k;
          return s("g", { class: `msgarrow ${e.kind}`, "data-t": t, "data-i": e.i },
            s("line", { class: "arrow", x1: x0, y1: y0, x2: x, y2: y, stroke: col,
              "marker-end": e.kind === "deliver" ? "url(#st-arrow)" : null }),
            e.kind === "drop" ? s("path", { class: "dropx", d: `M${x - 4},${y - 4}L${x + 4},${y + 4}M${x - 4},${y + 4}L${x + 4},${y - 4}` }) : null,
            s("title", { text: `${snd.msg} ${snd.node} → ${e.node}: sent ${fmtMs(snd.t_us / 1000)}, ` +
              (e.kind === "deliver" ? `delivered ${fmtMs(t)}` : `dropped ${fmtMs(t)} (${e.reason || ""})`) }));
        });
      } else if (e.kind === "command") {
        const c = e.command || {};
        const fault = FAULTS.has(c.type);
        const y1 = y ?? 10, y2 = y ?? this.g.hgt;
        add(`c${e.i}`, () => s("g", { class: `mark command${fault ? " fault" : ""}`, "data-t": t, "data-i": e.i },
          s("line", { x1: x, x2: x, y1: y == null ? 8 : y1 - 10, y2: y == null ? y2 : y1 + 10 }),
          s("text", { x: x + 3, y: (y ?? 18) - 6, "font-size": 10 }, c.type),
          s("title", { text: `${fmtMs(t)} ${c.type} ${JSON.stringify(c)}` })));
      } else if (e.kind === "violation") {
        add(`v${e.i}`, () => s("g", { class: "mark violation", "data-t": t, "data-i": e.i },
          s("line", { x1: x, x2: x, y1: 0, y2: this.g.hgt }),
          s("title", { text: `${fmtMs(t)} violation ${e.invariant}: ${e.detail}` })));
      } else if (y != null && (e.kind === "note" || e.kind === "start" || e.kind === "timer")) {
        add(`e${e.i}`, () => s(e.kind === "note" ? "rect" : "circle", e.kind === "note"
          ? { class: "mark note", x: x - 3, y: y - 3, width: 6, height: 6, transform: `rotate(45 ${x} ${y})`, "data-t": t, "data-i": e.i }
          : { class: `mark ${e.kind}`, cx: x, cy: y, r: e.kind === "start" ? 4 : 2.5, "data-t": t, "data-i": e.i },
          s("title", { text: `${fmtMs(t)} ${e.node} ${e.kind === "note" ? e.text + " " + JSON.stringify(e.fields || {}) : e.kind === "timer" ? "timer " + e.timer : "started"}` })));
      }
    }
    for (const [key, el] of this.els) if (!keep.has(key)) { el.remove(); this.els.delete(key); }
    this.bandsFor(store, laneY, k, from);
  }

  /** Shade each lane where its node was crashed or paused, from the recorded commands. */
  bandsFor(store, laneY, k, from) {
    const open = new Map();
    const bands = [];
    for (const e of store.events) {
      if (e.kind !== "command" || !e.command) continue;
      const { type, node } = e.command;
      const t = e.t_us / 1000;
      if ((type === "crash" || type === "pause") && !open.has(node)) open.set(node, [t, type]);
      if ((type === "restart" && open.get(node)?.[1] === "crash") || (type === "resume" && open.get(node)?.[1] === "pause")) {
        bands.push([node, ...open.get(node), t]);
        open.delete(node);
      }
    }
    for (const [node, [t, type]] of open) bands.push([node, t, type, store.t_ms + this.windowMs]);
    this.bands.replaceChildren(...bands.filter((b) => laneY.has(b[0]) && b[3] >= from).map(([node, a, type, b]) =>
      s("rect", { class: `band ${type}`, x: a * k, width: Math.max(1, (b - a) * k),
        y: laneY.get(node) - this.g.lane * 0.4, height: this.g.lane * 0.8 })));
  }

  /** A standalone SVG document of the diagram as shown, with its styles inlined. */
  exportSVG() {
    const copy = this.svg.cloneNode(true);
    copy.setAttribute("xmlns", "http://www.w3.org/2000/svg");
    copy.setAttribute("width", this.g.w);
    copy.setAttribute("height", this.g.hgt);
    const css = [...document.styleSheets].flatMap((sh) => {
      try { return [...sh.cssRules].map((r) => r.cssText).filter((t) => t.includes(".st ") || t.startsWith(".st")); }
      catch { return []; }
    }).join("\n");
    copy.classList.add("st");
    copy.prepend(s("style", {}, css), s("rect", { width: "100%", height: "100%", fill: "#fff" }));
    return new XMLSerializer().serializeToString(copy);
  }
}
