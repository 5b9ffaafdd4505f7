// The cluster view: nodes on a ring, links between them, messages in flight moving
// along the links. DOM elements are keyed by node id, link and message id and reused;
// positions are interpolated every animation frame between server frames.
import { h, s, attrs, text, keyed, hue, fmtMs, lazyTips } from "./dom.js";

// Roles and phases every model shares keep their colour; any other label takes the next
// free colour of the palette in the order it first appears.
const ROLE_COLOURS = { leader: "#e8a317", candidate: "#a35de0", follower: "#4a8fe7",
  "in doubt": "#e8793a", blocked: "#d2333f", idle: "#7d8ba1" };
const PALETTE = ["#2a9d60", "#5b5fd6", "#c2417f", "#1fa3a3", "#d2593f", "#7a8c2a", "#8e5bd0",
  "#b07a3a", "#3a86b0", "#9a4a4a"];

export class RoleColours {
  constructor() {
    this.assigned = new Map();
  }

  of(role) {
    if (!role) return "#8a94a6";
    const key = String(role).toLowerCase();
    if (ROLE_COLOURS[key]) return ROLE_COLOURS[key];
    if (!this.assigned.has(key)) {
      const n = this.assigned.size;
      this.assigned.set(key, n < PALETTE.length ? PALETTE[n] : `hsl(${hue(key)} 58% 50%)`);
    }
    return this.assigned.get(key);
  }
}

export class ClusterView {
  constructor(svg, handlers) {
    this.svg = svg;
    this.h = handlers;
    this.selected = new Set();
    this.colours = new RoleColours();
    this.linkLayer = s("g", { class: "links" });
    this.nodeLayer = s("g", { class: "nodes" });
    svg.append(this.linkLayer, this.nodeLayer);
    // Messages move every frame: they are drawn on a canvas above the SVG, so nothing
    // under them is laid out or painted again, and hundreds of them cost a millisecond.
    this.canvas = h("canvas", { class: "cluster-overlay", "aria-hidden": "true" });
    this.tip = h("div", { class: "msgtip", hidden: true });
    svg.after(this.canvas, this.tip);
    this.drawn = []; // [x, y, message] in CSS pixels, for hit tests
    const stage = svg.parentNode;
    stage.addEventListener("click", (ev) => {
      if (!svg.contains(ev.target)) return; // a menu or caption above the ring
      const m = this.messageAt(ev);
      if (!m) return;
      ev.stopPropagation();
      ev.preventDefault();
      this.h.message(m, ev);
    }, true);
    stage.addEventListener("pointermove", (ev) => this.hover(ev));
    new ResizeObserver(() => { this.fit = null; }).observe(svg);
    lazyTips(svg);
    this.nodeEls = new Map();
    this.linkEls = new Map();
    this.pos = new Map();
    this.layoutKey = "";
    this.label = null; // optional (summary) -> short text, from the model's panel module
  }

  layout(order) {
    const key = order.join(",");
    if (key === this.layoutKey) return;
    this.layoutKey = key;
    const n = order.length;
    this.R = n <= 1 ? 0 : Math.max(230, Math.min(440, 36 * n));
    this.r = Math.max(18, Math.min(40, 230 / Math.max(n, 1) + 14));
    const pad = this.r + 70;
    const side = this.R + pad;
    this.svg.setAttribute("viewBox", `${-side} ${-side + 10} ${2 * side} ${2 * side - 10}`);
    this.box = [-side, -side + 10, 2 * side, 2 * side - 10];
    this.fit = null;
    order.forEach((id, i) => {
      const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(n, 1);
      this.pos.set(id, [this.R * Math.cos(a), this.R * Math.sin(a)]);
    });
    const pairs = [];
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) pairs.push([order[i], order[j]]);
    keyed(this.linkLayer, this.linkEls, pairs, (p) => `${p[0]}-${p[1]}`,
      (p, k) => this.makeLink(p, k), (el, p) => this.placeLink(el, p));
  }

  makeLink([a, b], k) {
    const g = s("g", { class: "link", "data-link": k, "data-tip": `link ${a} ↔ ${b}: click to cut, heal or set latency and loss` },
      s("line", { class: "hit" }), s("line", { class: "wire" }));
    g._pair = [a, b];
    g.addEventListener("click", (ev) => this.h.link(a, b, ev));
    return g;
  }

  placeLink(g, [a, b]) {
    const [x1, y1] = this.pos.get(a), [x2, y2] = this.pos.get(b);
    for (const line of g.querySelectorAll("line")) attrs(line, { x1, y1, x2, y2 });
    g._geom = { x1, y1, x2, y2 };
  }

  /** Cut links drawn cut (one-way cuts with their direction); links with their own settings marked. */
  drawLinks(store) {
    const cut = store.cutPairs();
    const custom = new Map();
    for (const c of store.links.custom || []) custom.set(`${c.from}>${c.to}`, c);
    for (const g of this.linkEls.values()) {
      const [a, b] = g._pair;
      const ab = cut.has(`${a}>${b}`), ba = cut.has(`${b}>${a}`);
      const state = ab && ba ? "cut" : ab ? "oneway" : ba ? "oneway-back" : "ok";
      const set = [custom.get(`${a}>${b}`), custom.get(`${b}>${a}`)].filter(Boolean);
      attrs(g, { "data-state": state, class: `link ${state === "ok" ? "" : "is-cut"}`, "data-custom": set.length ? "" : null });
      if (!g._marks) g.dataset.tip = `link ${a} ↔ ${b}: click to cut, heal or set latency and loss${linkText(set)}`;
      if (state !== "ok" && g._geom && !g._marks) {
        g._marks = [s("path", { class: "cutmark", d: "M-7,-7L7,7M-7,7L7,-7" }), s("path", { class: "dirmark", d: "M-9,-7L5,0L-9,7" })];
        g.append(...g._marks);
      }
      if (g._marks) {
        const { x1, y1, x2, y2 } = g._geom;
        const mx = (x1 + x2) / 2, my = (y1 + y2) / 2;
        let ang = (Math.atan2(y2 - y1, x2 - x1) * 180) / Math.PI;
        if (state === "oneway-back") ang += 180;
        attrs(g._marks[0], { transform: `translate(${mx},${my})` });
        attrs(g._marks[1], { transform: `translate(${mx},${my}) rotate(${ang})` });
        g.dataset.tip = state === "ok" ? `link ${a} ↔ ${b}: click to cut, heal or set latency and loss${linkText(set)}`
          : state === "cut" ? `link ${a} ↔ ${b} is cut both ways: click to heal`
          : `link ${state === "oneway" ? `${a} → ${b}` : `${b} → ${a}`} is cut (one way): click to heal`;
      }
    }
  }

  makeNode(id) {
    const g = s("g", { class: "node", "data-node-id": id, tabindex: "0", role: "button",
      "aria-label": `node ${id}` },
      s("circle", { class: "halo" }), s("g", { class: "timers" }), s("circle", { class: "body" }),
      s("text", { class: "nid", dy: "0.05em" }), s("text", { class: "role" }),
      s("text", { class: "clock" }), s("text", { class: "skew" }), s("text", { class: "summary" }),
      s("path", { class: "xmark" }), s("text", { class: "pausemark", text: "❚❚" }));
    g.addEventListener("click", (ev) => this.h.node(id, ev));
    g.addEventListener("keydown", (ev) => { if (ev.key === "Enter") this.h.node(id, ev); });
    g._timers = new Map();
    return g;
  }

  /** Draw the snapshot at simulated time ``t`` (interpolated). */
  render(store, t) {
    this.layout(store.order);
    const r = this.r;
    // Nodes change with each frame from the server; between frames only their clocks and
    // timer arcs move, and in a big ring those are redrawn at 15 per second, not 60.
    const now = performance.now();
    if (store.seq !== this.nodesSeq || this.pos.size <= 12 || now - this.nodesAt > 66) {
      this.nodesSeq = store.seq;
      this.nodesAt = now;
      const nodes = store.order.map((id) => store.node(id));
      keyed(this.nodeLayer, this.nodeEls, nodes, (n) => n.id, (n) => this.makeNode(n.id),
        (g, n) => this.updateNode(g, n, store, t, r));
    }
    if (this.linksFor !== store.links || this.linksLayout !== this.layoutKey) {
      this.linksFor = store.links;
      this.linksLayout = this.layoutKey;
      this.drawLinks(store);
    }
    const msgs = store.messages.filter((m) => this.pos.has(m.from) && this.pos.has(m.to));
    this.drawMessages(msgs, t, r);
  }

  updateNode(g, n, store, t, r) {
    const [x, y] = this.pos.get(n.id);
    const status = n.status || "alive";
    const colour = status === "crashed" ? "#5b6270" : this.colours.of(n.role);
    attrs(g, { transform: `translate(${x},${y})`, "data-status": status, "data-role": n.role || "",
      class: `node ${status}${this.selected.has(n.id) ? " selected" : ""}` });
    attrs(g.children[0], { r: r + 8 });
    attrs(g.children[2], { r, fill: colour });
    const fs = Math.max(8, Math.min(r * 0.62, (1.8 * r) / (0.64 * Math.max(2, n.id.length))));
    attrs(g.children[3], { "font-size": fs });
    text(g.children[3], n.id);
    const roleText = status === "alive" ? n.role || "" : status;
    attrs(g.children[4], { y: r * 0.62, "font-size": Math.max(7, Math.min(r * 0.34, (1.8 * r) / (0.6 * Math.max(4, roleText.length)))) });
    text(g.children[4], roleText);
    const clock = store.clock(n, t);
    const crowded = this.pos.size > 12;
    const small = crowded ? 10 : 13;
    attrs(g.children[5], { y: r + (crowded ? 22 : 30), "font-size": small });
    text(g.children[5], clock == null ? "" : crowded ? fmtMs(clock) : `clock ${fmtMs(clock)}`);
    const skew = clock == null ? 0 : clock - t;
    const drift = n.rate != null && Math.abs(n.rate - 1) > 1e-9;
    attrs(g.children[6], { y: r + (crowded ? 33 : 45), "font-size": small - 1, class: `skew${Math.abs(skew) >= 0.05 || drift ? " on" : ""}` });
    text(g.children[6], (Math.abs(skew) >= 0.05 ? `skew ${skew > 0 ? "+" : ""}${fmtMs(skew)}` : "") +
      (drift ? ` rate ×${n.rate}` : ""));
    let label = n.summary ? (this.label ? this.label(n.summary, n) : defaultLabel(n.summary)) : "";
    if (crowded && label) label = label.split(" · ")[0];
    attrs(g.children[7], { y: -r - (crowded ? 7 : 10), "font-size": small });
    text(g.children[7], label || "");
    attrs(g.children[8], { d: `M${-r * 0.6},${-r * 0.6}L${r * 0.6},${r * 0.6}M${-r * 0.6},${r * 0.6}L${r * 0.6},${-r * 0.6}` });
    attrs(g.children[9], { x: r * 0.85, y: -r * 0.75, "font-size": Math.max(10, r * 0.45) });
    const timers = n.timerList.filter((tm) => tm.due_ms != null);
    attrs(g, { "data-tip": `${n.id} · ${status}${n.role ? ` · ${n.role}` : ""}${drift ? ` · clock rate ×${n.rate}` : ""}\n` +
      "The number below is this node's own clock; arcs are its timers running down.\n" +
      "Click: crash, restart, pause, clock skew and drift. Shift-click: select for a partition." });
    keyed(g.children[1], g._timers, timers, (tm) => tm.name,
      (tm) => s("path", { class: "timer" }),
      (p, tm) => {
        const i = timers.indexOf(tm);
        const seen = store.timerSetAt.get(`${n.id}/${tm.name}`);
        const set = seen ? seen[1] : t;
        const span = Math.max(tm.due_ms - set, 1e-6);
        const frac = Math.max(0, Math.min(1, (tm.due_ms - t) / span));
        attrs(p, { d: arc(r + 5 + 5 * i, frac), stroke: `hsl(${hue(tm.name)} 60% 45%)`,
          "data-tip": `timer ${tm.name} on ${n.id}: fires at ${fmtMs(tm.due_ms)} (true time)` });
      });
  }

  /** The SVG-to-canvas mapping (viewBox, meet, centred), recomputed after a resize. */
  fitCanvas() {
    const w = this.svg.clientWidth, hgt = this.svg.clientHeight, dpr = window.devicePixelRatio || 1;
    const [bx, by, bw, bh] = this.box;
    const k = Math.min(w / bw, hgt / bh);
    this.canvas.width = Math.round(w * dpr);
    this.canvas.height = Math.round(hgt * dpr);
    this.fit = { k, dx: (w - bw * k) / 2 - bx * k, dy: (hgt - bh * k) / 2 - by * k, dpr };
  }

  drawMessages(msgs, t, r) {
    if (!this.fit) this.fitCanvas();
    const { k, dx, dy, dpr } = this.fit;
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    const drawn = (this.drawn = []);
    const rad = Math.max(3, 7 * k);
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = "#fff";
    for (const m of msgs) {
      const [x1, y1] = this.pos.get(m.from), [x2, y2] = this.pos.get(m.to);
      const span = m.due_ms - m.sent_ms;
      const p = span > 0 ? Math.max(0, Math.min(1, (t - m.sent_ms) / span)) : 1;
      const ddx = x2 - x1, ddy = y2 - y1, len = Math.hypot(ddx, ddy) || 1;
      const ux = ddx / len, uy = ddy / len;
      const d = r + (len - 2 * r) * p;
      const x = (x1 + ux * d - uy * 6) * k + dx, y = (y1 + uy * d + ux * 6) * k + dy;
      drawn.push([x, y, m]);
      ctx.beginPath();
      ctx.arc(x, y, m.id === this.hovered ? rad * 1.4 : rad, 0, 2 * Math.PI);
      ctx.fillStyle = `hsl(${hue(m.kind)} 70% 45%)`;
      ctx.fill();
      ctx.stroke();
    }
  }

  /** The message drawn under the pointer, if any. */
  messageAt(ev) {
    const rect = this.canvas.getBoundingClientRect();
    const px = ev.clientX - rect.left, py = ev.clientY - rect.top;
    let best = null, bestD = 11 * 11;
    for (const [x, y, m] of this.drawn) {
      const d = (x - px) ** 2 + (y - py) ** 2;
      if (d < bestD) { bestD = d; best = m; }
    }
    return best;
  }

  hover(ev) {
    const m = this.svg.contains(ev.target) ? this.messageAt(ev) : null;
    if (!m && this.hovered == null) return;
    this.hovered = m ? m.id : null;
    this.svg.style.cursor = m ? "pointer" : "";
    this.tip.hidden = !m;
    if (m) {
      const rect = this.svg.parentNode.getBoundingClientRect();
      this.tip.textContent = `${m.kind} #${m.id}: ${m.from} → ${m.to} · click to drop it`;
      this.tip.style.left = `${ev.clientX - rect.left + 12}px`;
      this.tip.style.top = `${ev.clientY - rect.top + 12}px`;
    }
  }

  /** Where message ``id`` is drawn, in page coordinates (for tests and tours). */
  messagePoint(id) {
    const hit = this.drawn.find(([, , m]) => m.id === id);
    if (!hit) return null;
    const rect = this.canvas.getBoundingClientRect();
    return [rect.left + hit[0], rect.top + hit[1]];
  }

  toggleSelect(id) {
    if (this.selected.has(id)) this.selected.delete(id);
    else this.selected.add(id);
  }
}

function linkText(settings) {
  return settings.map((c) => `\n${c.from} → ${c.to}: latency ${c.latency_ms?.join("–")} ms, loss ${c.loss}, duplicate ${c.duplicate}`).join("");
}

function arc(radius, frac) {
  if (frac <= 0) return "";
  if (frac >= 0.9999) frac = 0.9999;
  const a = -Math.PI / 2 + 2 * Math.PI * frac;
  const x = radius * Math.cos(a), y = radius * Math.sin(a);
  return `M0,${-radius}A${radius},${radius} 0 ${frac > 0.5 ? 1 : 0} 1 ${x.toFixed(2)},${y.toFixed(2)}`;
}

/** A node's short label: its first two scalar summary fields. */
export function defaultLabel(summary) {
  return Object.entries(summary).filter(([, v]) => typeof v === "number" || typeof v === "string")
    .slice(0, 2).map(([k, v]) => `${k.replace(/_/g, " ")} ${v}`).join(" · ");
}
