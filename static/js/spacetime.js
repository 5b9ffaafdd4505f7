// The space-time diagram: one lane per node, time to the right, messages as arrows from
// send to delivery (or to the drop), faults and notes marked; clicking one seeks there.
// Elements are drawn once, relative to a base time, in an SVG that the compositor slides
// left as time advances (no repaint per frame); it is redrawn when it runs out of room.
import { s, h, attrs, hue, fmtMs, lazyTips } from "./dom.js";

const FAULTS = new Set(["crash", "restart", "pause", "resume", "cut", "heal", "partition", "drop",
  "link", "network", "skew", "drift", "jump"]);

/** 1, 2 or 5 times a power of ten, near ``x``. */
function roundStep(x) {
  const p = 10 ** Math.floor(Math.log10(Math.max(x, 1e-3)));
  return [1, 2, 5, 10].map((m) => m * p).find((v) => v >= x) ?? 10 * p;
}

export class SpaceTime {
  constructor(box, onSeek) {
    this.box = box;
    this.onSeek = onSeek;
    this.windowMs = 1000;
    this.els = new Map();
    this.key = "";
    this.lanes = s("g", { class: "lanes" });
    this.labels = s("g", { class: "labels" });
    this.back = s("svg", { class: "st stback" }, this.lanes, this.labels);
    this.bands = s("g", { class: "bands" });
    this.grid = s("g", { class: "grid" });
    this.content = s("g", { class: "content" });
    this.sheet = s("svg", { class: "st stsheet" }, s("defs", {},
      s("marker", { id: "st-arrow", viewBox: "0 0 8 8", refX: 7, refY: 4, markerWidth: 6, markerHeight: 6, orient: "auto" },
        s("path", { d: "M0,0L8,4L0,8z", fill: "context-stroke" }))), this.grid, this.bands, this.content);
    this.live = h("canvas", { class: "stlive" }); // messages in flight: redrawn every frame
    this.view = h("div", { class: "stview" }, this.sheet, this.live);
    this.now = h("div", { class: "stnow" });
    box.append(this.back, this.view, this.now);
    lazyTips(box);
    box.addEventListener("click", (ev) => {
      const el = ev.target.closest("[data-t]");
      if (el) this.onSeek(Number(el.dataset.t), Number(el.dataset.send ?? el.dataset.i));
    });
  }

  zoom(factor) {
    this.windowMs = Math.max(20, Math.min(600000, this.windowMs * factor));
    this.key = "";
  }

  geometry(store) {
    if (!this.size) {
      // Read the size once and on resize only: reading it every frame forces a layout.
      this.size = [this.box.clientWidth, this.box.clientHeight];
      new ResizeObserver(([entry]) => {
        this.size = [entry.contentRect.width, entry.contentRect.height];
      }).observe(this.box);
    }
    const w = Math.max(200, this.size[0] || 800);
    const hgt = Math.max(60, this.size[1] || 200);
    const n = Math.max(1, store.order.length);
    const lane = Math.max(7, Math.min(34, (hgt - 26) / n));
    const left = Math.max(40, Math.min(120, 12 + 7.2 * Math.max(...store.order.map((id) => id.length), 2)));
    const vw = w - left - 12;
    return { w, hgt, lane, vw, left, k: vw / this.windowMs };
  }

  /** Draw at simulated time ``t``: new events add elements; the sheet slides. */
  render(store, t) {
    const g = this.geometry(store);
    const t0 = t - this.windowMs;
    const key = `${g.w}x${g.hgt}/${this.windowMs}/${store.order.join(",")}`;
    const outOfRoom = this.base == null || t0 < this.base - this.windowMs * 0.05 || t0 > this.base + 1.9 * this.windowMs;
    if (key !== this.key || this.gen !== store.gen || outOfRoom) {
      this.reset(store, g, key, t0);
    }
    this.g = g;
    const laneY = this.laneY;
    // New arrows join the sheet in batches: each batch repaints it, the slide does not.
    const now = performance.now();
    if (this.last === -1 || now - this.builtAt > 120) {
      this.builtAt = now;
      this.build(store, g.k, t0 - this.windowMs * 0.05);
    }
    const shift = -(t0 - this.base) * g.k;
    this.sheet.style.transform = `translateX(${shift.toFixed(1)}px)`;
    // Messages in flight: dashed, from their send to where they are now.
    const ctx = this.live.getContext("2d");
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, g.vw, g.hgt);
    ctx.setLineDash([3, 3]);
    ctx.lineWidth = 1.2;
    this.flying = [];
    for (const m of store.messages) {
      const y1 = laneY.get(m.from), y2 = laneY.get(m.to);
      if (y1 == null || y2 == null) continue;
      const span = m.due_ms - m.sent_ms;
      const p = span > 0 ? Math.max(0, Math.min(1, (t - m.sent_ms) / span)) : 1;
      const seg = [(m.sent_ms - t0) * g.k, y1, (Math.min(t, m.due_ms) - t0) * g.k, y1 + (y2 - y1) * p, hue(m.kind)];
      this.flying.push(seg);
      ctx.strokeStyle = `hsl(${seg[4]} 70% 45%)`;
      ctx.beginPath();
      ctx.moveTo(seg[0], seg[1]);
      ctx.lineTo(seg[2], seg[3]);
      ctx.stroke();
    }
    if (this.highlight !== this.shownHighlight) {
      this.content.querySelector(".hl")?.classList.remove("hl");
      this.els.get(this.highlight)?.classList.add("hl");
      this.shownHighlight = this.highlight;
    }
  }

  /** Start a fresh sheet whose left edge is time ``t0``. */
  reset(store, g, key, t0) {
    this.key = key;
    this.gen = store.gen;
    this.base = t0;
    this.els.clear();
    this.order = []; // [t_ms, key] in insertion order, to prune what scrolled away
    this.sends = new Map();
    this.last = -1;
    this.content.replaceChildren();
    this.shownHighlight = null;
    attrs(this.back, { viewBox: `0 0 ${g.w} ${g.hgt}`, width: g.w, height: g.hgt });
    attrs(this.sheet, { width: Math.ceil(3 * g.vw), height: g.hgt });
    const dpr = window.devicePixelRatio || 1;
    this.live.width = Math.ceil((g.vw) * dpr);
    this.live.height = Math.ceil(g.hgt * dpr);
    this.live.style.width = `${g.vw}px`;
    this.live.style.height = `${g.hgt}px`;
    this.view.style.left = `${g.left}px`;
    this.lanes.replaceChildren(...store.order.map((id, i) => s("line", { x1: g.left, x2: g.w,
      y1: 14 + (i + 0.5) * g.lane, y2: 14 + (i + 0.5) * g.lane })));
    this.labels.replaceChildren(...store.order.map((id, i) => s("text", { x: 6, y: 14 + (i + 0.5) * g.lane, dy: "0.35em",
      "font-size": Math.min(13, g.lane * 0.9) }, id)));
    this.laneY = new Map(store.order.map((id, i) => [id, 14 + (i + 0.5) * g.lane]));
    // Time ticks at a round step, across the whole sheet.
    const step = roundStep(this.windowMs / 8);
    const ticks = [];
    for (let x = Math.ceil(t0 / step) * step; x <= t0 + 3 * this.windowMs; x += step) {
      const px = (x - t0) * g.k;
      ticks.push(s("line", { x1: px, x2: px, y1: 10, y2: g.hgt }), s("text", { x: px + 2, y: 9, "font-size": 9 }, fmtMs(x)));
    }
    this.grid.replaceChildren(...ticks);
    this.bandKey = null;
    const label = document.getElementById("st-window");
    if (label) label.textContent = `last ${fmtMs(this.windowMs)}`;
  }

  /** Mark the element of trace record ``i`` (a message arrow is keyed by its delivery). */
  mark(i) {
    for (const prefix of ["m", "c", "v", "e"]) {
      if (this.els.has(`${prefix}${i}`)) { this.highlight = `${prefix}${i}`; return; }
    }
    const arrow = [...this.els.keys()].find((k) => this.els.get(k).dataset.send === String(i));
    this.highlight = arrow || null;
  }

  build(store, k, from) {
    const laneY = this.laneY;
    const events = store.events;
    const add = (key, t, make) => {
      if (this.els.has(key)) return;
      const el = make();
      this.els.set(key, el);
      this.order.push([t, key]);
      this.content.append(el);
    };
    let j = events.length;
    while (j > 0 && events[j - 1].i > this.last) j--;
    let faults = false;
    for (; j < events.length; j++) {
      const e = events[j];
      this.last = e.i;
      const x = (e.t_us / 1000 - this.base) * k, y = laneY.get(e.node);
      const t = e.t_us / 1000;
      if (e.kind === "send") { this.sends.set(e.i, e); continue; }
      if (t < from) continue;
      if ((e.kind === "deliver" || e.kind === "drop") && this.sends.has(e.cause)) {
        const snd = this.sends.get(e.cause);
        this.sends.delete(e.cause);
        const y0 = laneY.get(snd.node);
        if (y0 == null || y == null) continue;
        add(`m${e.i}`, t, () => {
          const x0 = (snd.t_us / 1000 - this.base) * k;
          const tip = `${snd.msg} ${snd.node} → ${e.node}: sent ${fmtMs(snd.t_us / 1000)}, ` +
            (e.kind === "deliver" ? `delivered ${fmtMs(t)}` : `dropped ${fmtMs(t)} (${e.reason || ""})`) + " · click to seek here";
          const line = s("line", { class: `arrow ${e.kind}`, x1: x0, y1: y0, x2: x, y2: y, stroke: `hsl(${hue(snd.msg)} 70% 45%)`,
            "marker-end": e.kind === "deliver" ? "url(#st-arrow)" : null, "data-t": t, "data-i": e.i, "data-send": snd.i, "data-tip": tip });
          if (e.kind === "deliver") return line;
          return s("g", { "data-t": t, "data-i": e.i, "data-send": snd.i, "data-tip": tip }, line,
            s("path", { class: "dropx", d: `M${x - 4},${y - 4}L${x + 4},${y + 4}M${x - 4},${y + 4}L${x + 4},${y - 4}` }));
        });
      } else if (e.kind === "command") {
        faults = true;
        const c = e.command || {};
        const fault = FAULTS.has(c.type);
        add(`c${e.i}`, t, () => s("g", { class: `mark command${fault ? " fault" : ""}`, "data-t": t, "data-i": e.i,
          "data-tip": `${fmtMs(t)} ${c.type} ${JSON.stringify(c)}` },
          s("line", { x1: x, x2: x, y1: y == null ? 8 : y - 10, y2: y == null ? this.g.hgt : y + 10 }),
          s("text", { x: x + 3, y: (y ?? 18) - 6, "font-size": 10 }, c.type)));
      } else if (e.kind === "violation") {
        add(`v${e.i}`, t, () => s("line", { class: "mark violation", "data-t": t, "data-i": e.i, x1: x, x2: x, y1: 0, y2: this.g.hgt,
          "data-tip": `${fmtMs(t)} violation ${e.invariant}: ${e.detail}` }));
      } else if (y != null && (e.kind === "note" || e.kind === "fact" || e.kind === "start" || e.kind === "timer")) {
        const note = e.kind === "note" || e.kind === "fact";
        const tip = `${fmtMs(t)} ${e.node} ${note ? `${e.text} ${JSON.stringify(e.fields || {})}` : e.kind === "timer" ? `timer ${e.timer}` : "started"}`;
        add(`e${e.i}`, t, () => (note
          ? s("rect", { class: "mark note", x: x - 3, y: y - 3, width: 6, height: 6, transform: `rotate(45 ${x} ${y})`, "data-t": t, "data-i": e.i, "data-tip": tip })
          : s("circle", { class: `mark ${e.kind}`, cx: x, cy: y, r: e.kind === "start" ? 4 : 2.5, "data-t": t, "data-i": e.i, "data-tip": tip })));
      }
    }
    // Forget what scrolled out of view, and sends whose delivery will never be drawn.
    let drop = 0;
    while (drop < this.order.length && this.order[drop][0] < from) {
      const key = this.order[drop++][1];
      this.els.get(key)?.remove();
      this.els.delete(key);
    }
    if (drop) this.order.splice(0, drop);
    if (this.sends.size > 5000) {
      for (const [i, e] of this.sends) { if (e.t_us / 1000 < from - 60000) this.sends.delete(i); else break; }
    }
    if (faults || this.bandKey === null || this.bandKey !== Math.floor(from / 1000)) {
      this.bandKey = Math.floor(from / 1000);
      this.bandsFor(store, laneY, k, from);
    }
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
      s("rect", { class: `band ${type}`, x: (a - this.base) * k, width: Math.max(1, (b - a) * k),
        y: laneY.get(node) - this.g.lane * 0.4, height: this.g.lane * 0.8 })));
  }

  /** A standalone SVG document of the diagram as shown, with its styles inlined. */
  exportSVG() {
    const { w, hgt, left } = this.g;
    const shift = left + Number((this.sheet.style.transform.match(/-?[\d.]+/) || [0])[0]);
    const css = [...document.styleSheets].flatMap((sh) => {
      try { return [...sh.cssRules].map((r) => r.cssText).filter((t) => t.startsWith(".st")); }
      catch { return []; }
    }).join("\n");
    const doc = s("svg", { xmlns: "http://www.w3.org/2000/svg", class: "st", width: w, height: hgt, viewBox: `0 0 ${w} ${hgt}` },
      s("style", {}, css), s("rect", { width: "100%", height: "100%", fill: "#fff" }),
      s("clipPath", { id: "st-export-clip" }, s("rect", { x: left, y: 0, width: w - left, height: hgt })),
      this.lanes.cloneNode(true), this.labels.cloneNode(true),
      s("g", { "clip-path": "url(#st-export-clip)" },
        s("g", { transform: `translate(${shift.toFixed(1)},0)` }, this.sheet.querySelector("defs").cloneNode(true),
          this.grid.cloneNode(true), this.bands.cloneNode(true), this.content.cloneNode(true))),
        s("g", { transform: `translate(${left},0)`, class: "inflight" }, (this.flying || []).map(([x1, y1, x2, y2, hu]) =>
          s("line", { class: "arrow flying", x1, y1, x2, y2, stroke: `hsl(${hu} 70% 45%)` }))));
    return new XMLSerializer().serializeToString(doc);
  }
}
