// The cluster view: the protocol's nodes on a ring, helpers (clients, stores) beside it,
// links between them, messages in flight moving along the links. DOM elements are keyed
// by node id, link and message id and reused; positions are interpolated every animation
// frame between server frames. In lecture mode the ring is laid out in CSS pixels, so
// that labels have a size in pixels: large enough for a room, shortened to fit the room
// between neighbours (the full text is in the tooltip), never overlapping.
import { h, s, attrs, text, keyed, hue, fmtMs, lazyTips } from "./dom.js";

// Roles and phases every model shares keep their colour; any other label takes the next
// free colour of the palette in the order it first appears.
const ROLE_COLOURS = { leader: "#e8a317", candidate: "#a35de0", follower: "#4a8fe7",
  "in doubt": "#e8793a", blocked: "#d2333f", idle: "#7d8ba1", outside: "#a3abb8" };
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
    svg.addEventListener("mousedown", (ev) => { if (ev.shiftKey) ev.preventDefault(); }); // no text selection
    new ResizeObserver(() => { this.fit = null; }).observe(svg);
    lazyTips(svg);
    this.nodeEls = new Map();
    this.linkEls = new Map();
    this.pos = new Map();
    this.layoutKey = "";
    this.label = null; // optional (summary) -> short text, from the model's panel module
    this.helpers = new Set(); // nodes apart from the protocol's group, from the scenario
  }

  layout(order) {
    const lecture = document.body.classList.contains("lecture");
    const w = this.svg.clientWidth, hgt = this.svg.clientHeight;
    const key = `${order.join(",")}|${[...this.helpers].join(",")}|${lecture ? `${w}x${hgt}` : ""}`;
    if (key === this.layoutKey) return;
    this.layoutKey = key;
    const ring = order.filter((id) => !this.helpers.has(id));
    const apart = order.filter((id) => this.helpers.has(id));
    this.pixels = lecture && w > 0 && hgt > 0 && ring.length <= 16;
    if (this.pixels) this.layoutPixels(ring, apart, w, hgt);
    else this.layoutRing(ring, apart);
    const [bx, by, bw, bh] = this.box;
    this.svg.setAttribute("viewBox", `${bx} ${by} ${bw} ${bh}`);
    this.fit = null;
    this.index = new Map(order.map((id, i) => [id, i]));
    const pairs = [];
    for (let i = 0; i < order.length; i++) for (let j = i + 1; j < order.length; j++) pairs.push([order[i], order[j]]);
    keyed(this.linkLayer, this.linkEls, pairs, (p) => `${p[0]}-${p[1]}`,
      (p, k) => this.makeLink(p, k), (el, p) => this.placeLink(el, p));
    this.busyFor = null;
    this.nodesSeq = null;
  }

  /** The ring in its own units, scaled to fit: the protocol's nodes on a circle, helpers
   * in a column to its right. */
  layoutRing(ring, apart) {
    const n = ring.length;
    this.R = n <= 1 ? 0 : Math.max(230, Math.min(440, 36 * n));
    this.r = Math.max(18, Math.min(40, 230 / Math.max(n, 1) + 14));
    const pad = this.r + 70;
    const side = this.R + pad;
    ring.forEach((id, i) => {
      const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(n, 1);
      this.pos.set(id, [this.R * Math.cos(a), this.R * Math.sin(a)]);
    });
    let right = side;
    if (apart.length) {
      const x = this.R + 3 * this.r + 110;
      const gap = Math.min((2 * this.R) / apart.length, 4.5 * this.r + 40);
      apart.forEach((id, i) => this.pos.set(id, [x, (i - (apart.length - 1) / 2) * gap]));
      right = x + pad;
    }
    this.box = [-side, -side + 10, side + right, 2 * side - 10];
  }

  /** The lecture layout, in CSS pixels: an ellipse that fills the stage, helpers in a
   * column at its right, and for each node the width its labels may take (``room``). */
  layoutPixels(ring, apart, w, hgt) {
    const family = getComputedStyle(this.svg).fontFamily;
    // Type grows with the screen: 18/16 px at 720 px high, up to 1.4 times that.
    const k = Math.max(1, Math.min(1.4, innerHeight / 720));
    const px = (this.px = { id: ID_PX * k, line: LINE_PX * k, role: ROLE_PX * k });
    this.fonts = { id: (size) => `700 ${size}px ${family}`, line: `${px.line}px ${family}`, role: `${px.role}px ${family}` };
    const all = [...ring, ...apart];
    // Each circle fits its own name (so one long name does not swell the whole ring).
    const radius = (id) => Math.max(36 * k, Math.min(58 * k, textWidth(id, this.fonts.id(px.id)) / 2 + 8));
    this.radius = new Map(all.map((id) => [id, radius(id)]));
    const r = (this.r = Math.max(36 * k, ...ring.map((id) => this.radius.get(id))));
    const rh = Math.max(36 * k, ...apart.map((id) => this.radius.get(id)));
    const above = r + 14 + px.line, below = r + 12 + px.line, margin = 10;
    // Helpers stand in columns to the right, or in a row underneath on a narrow screen.
    const row = apart.length > 0 && w < 600;
    const step = 2 * rh + 30 + 2 * px.line; // one helper with its labels
    const perColumn = Math.max(1, Math.floor((hgt - 20) / step));
    const columns = Math.ceil(apart.length / perColumn);
    const colW = Math.min(240 * k, Math.max(150 * k, ...apart.map((id) => textWidth(id, this.fonts.id(px.id)) + 40)));
    const column = apart.length && !row ? columns * colW : 0;
    const band = row ? 2 * rh + 58 + 2 * px.line : 0; // with the legend under it
    const width = w - column;
    const rx = Math.max(0, width / 2 - Math.min(120, width / 6) - margin);
    const ry = Math.max(0, (hgt - band - above - below) / 2 - margin);
    const cx = width / 2, cy = above + margin + ry;
    ring.forEach((id, i) => {
      const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(ring.length, 1);
      this.pos.set(id, [cx + (ring.length > 1 ? rx * Math.cos(a) : 0), cy + (ring.length > 1 ? ry * Math.sin(a) : 0)]);
    });
    apart.forEach((id, i) => {
      if (row) return this.pos.set(id, [(w * (i + 1)) / (apart.length + 1), hgt - band / 2 - 10]);
      const col = Math.floor(i / perColumn), inCol = Math.min(perColumn, apart.length - col * perColumn);
      const gap = Math.max(step, (hgt - 20) / (inCol + 1));
      this.pos.set(id, [width + (col + 0.5) * colW, hgt / 2 + ((i % perColumn) - (inCol - 1) / 2) * gap]);
    });
    // A node's label lines (its summary above, its clock below) may be as wide as the gap
    // to any other node's line or circle at the same height. A line that would have no
    // room (a node right above another on a flat ring) is left out instead.
    const lines = (nid) => {
      const [, y] = this.pos.get(nid), rr = this.radius.get(nid);
      return [y - rr - 10, y + rr + 6 + px.line].map((base) => [base - px.line, base + 5]);
    };
    this.hidden = new Set(); // "id/0" (summary) and "id/1" (clock) left out
    const halves = (id) => {
      const [x] = this.pos.get(id);
      return lines(id).map(([top, bottom]) => {
        let half = Math.min(170 * k, x - 2, w - x - 2);
        for (const other of all) {
          if (other === id) continue;
          const [ox, oy] = this.pos.get(other), orr = this.radius.get(other), dx = Math.abs(ox - x);
          if (lines(other).some(([t, b], j) => !this.hidden.has(`${other}/${j}`) && t < bottom && top < b)) half = Math.min(half, (dx - 12) / 2);
          if (oy - orr < bottom && top < oy + orr) half = Math.min(half, dx - orr - 8);
        }
        return half;
      });
    };
    for (const id of all) halves(id).forEach((half, j) => { if (half < 28) this.hidden.add(`${id}/${j}`); });
    this.room = new Map(all.map((id) => [id, halves(id).map((half) => Math.max(20, half))]));
    // Each name in the largest type that fits its circle, down to 16 px, then shortened.
    this.idText = new Map();
    for (const id of all) {
      const fitW = 2 * this.radius.get(id) - 8;
      const wide = textWidth(id, this.fonts.id(px.id));
      const size = wide <= fitW ? px.id : Math.max(MIN_PX, (px.id * fitW) / wide);
      this.idText.set(id, { px: size, text: fitText(id, this.fonts.id(size), fitW) });
    }
    this.box = [0, 0, w, hgt];
  }

  makeLink([a, b], k) {
    const g = s("g", { class: "link", "data-link": k, tabindex: "0", role: "button",
      "aria-label": `link ${a} ↔ ${b}`, "data-tip": `link ${a} ↔ ${b}: click to cut, heal or set latency and loss` },
      s("line", { class: "hit" }), s("line", { class: "wire" }));
    g._pair = [a, b];
    g.addEventListener("click", (ev) => this.h.link(a, b, ev));
    onActivate(g, (ev) => this.h.link(a, b, ev));
    return g;
  }

  /** Links to a helper are drawn only while they carry a message (or are cut). */
  showBusyLinks(store) {
    if (this.busyFor === store.messages && this.busyLinks === store.links) return;
    this.busyFor = store.messages;
    this.busyLinks = store.links;
    const busy = new Set(store.messages.map((m) => this.pairKey(m.from, m.to)));
    for (const [k, g] of this.linkEls) {
      if (!g._helper) continue;
      const on = busy.has(k) || g.dataset.state !== "ok";
      if (on === g._on) continue;
      g._on = on;
      g.style.display = on ? "" : "none";
    }
  }

  pairKey(a, b) {
    return this.index.get(a) < this.index.get(b) ? `${a}-${b}` : `${b}-${a}`;
  }

  placeLink(g, [a, b]) {
    const helper = this.helpers.has(a) || this.helpers.has(b);
    if (helper !== g._helper) {
      g._helper = helper;
      g._on = undefined;
      g.style.display = "";
    }
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
    onActivate(g, (ev) => this.h.node(id, ev));
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
    this.showBusyLinks(store);
    const msgs = store.messages.filter((m) => this.pos.has(m.from) && this.pos.has(m.to));
    this.drawMessages(msgs, t, r);
  }

  updateNode(g, n, store, t, r) {
    if (this.pixels) r = this.radius.get(n.id);
    const [x, y] = this.pos.get(n.id);
    const status = n.status || "alive";
    const colour = status === "crashed" ? "#5b6270" : this.colours.of(n.role);
    attrs(g, { transform: `translate(${x},${y})`, "data-status": status, "data-role": n.role || "",
      class: `node ${status}${this.selected.has(n.id) ? " selected" : ""}` });
    attrs(g.children[0], { r: r + 8 });
    attrs(g.children[2], { r, fill: colour });
    const roleText = status === "alive" ? n.role || "" : status;
    const clock = store.clock(n, t);
    const skew = clock == null ? 0 : clock - t;
    const drift = n.rate != null && Math.abs(n.rate - 1) > 1e-9;
    const skewText = (Math.abs(skew) >= 0.05 ? `skew ${skew > 0 ? "+" : ""}${fmtMs(skew)}` : "") +
      (drift ? ` rate ×${n.rate}` : "");
    let label = n.summary ? (this.label ? this.label(n.summary, n) : defaultLabel(n.summary)) : "";
    const skewClass = `skew${Math.abs(skew) >= 0.05 || drift ? " on" : ""}`;
    if (this.pixels) {
      // Lecture: sizes in CSS pixels; each line shortened to the room beside its neighbours.
      const [above, below] = this.room.get(n.id), f = this.fonts, id = this.idText.get(n.id);
      const shown = (j, line) => (this.hidden.has(`${n.id}/${j}`) ? "" : line);
      attrs(g.children[3], { "font-size": id.px });
      text(g.children[3], id.text);
      const roleFits = textWidth(roleText, f.role) <= 2 * r - 10;
      attrs(g.children[4], { y: r * 0.5 + 2, "font-size": this.px.role, visibility: roleFits ? null : "hidden" });
      attrs(g.children[3], { dy: roleFits && roleText ? "-0.25em" : "0.05em" });
      text(g.children[4], roleText);
      // The clock and its skew share one line (a second would crowd the node below).
      const skewed = skewText.trim();
      attrs(g.children[5], { y: r + 6 + this.px.line, "font-size": this.px.line, class: `clock${skewed ? " skewed" : ""}` });
      text(g.children[5], clock == null ? "" : shown(1, fitText(`clock ${fmtMs(clock)}${skewed ? ` · ${skewed}` : ""}`, f.line, 2 * below)));
      text(g.children[6], "");
      attrs(g.children[7], { y: -r - 10, "font-size": this.px.line });
      text(g.children[7], shown(0, fitText(label || "", f.line, 2 * above)));
    } else {
      const fs = Math.max(8, Math.min(r * 0.62, (1.8 * r) / (0.64 * Math.max(2, n.id.length))));
      attrs(g.children[3], { "font-size": fs, dy: "0.05em" });
      text(g.children[3], n.id);
      attrs(g.children[4], { y: r * 0.62, visibility: null, "font-size": Math.max(7, Math.min(r * 0.34, (1.8 * r) / (0.6 * Math.max(4, roleText.length)))) });
      text(g.children[4], roleText);
      const crowded = this.pos.size > 12;
      const small = crowded ? 10 : 13;
      attrs(g.children[5], { y: r + (crowded ? 22 : 30), "font-size": small, class: "clock" });
      text(g.children[5], clock == null ? "" : crowded ? fmtMs(clock) : `clock ${fmtMs(clock)}`);
      attrs(g.children[6], { y: r + (crowded ? 33 : 45), "font-size": small - 1, class: skewClass });
      text(g.children[6], skewText);
      if (crowded && label) label = label.split(" · ")[0];
      attrs(g.children[7], { y: -r - (crowded ? 7 : 10), "font-size": small });
      text(g.children[7], label || "");
    }
    // A crashed node is crossed out in a corner badge, so its name stays readable.
    const b = r * 0.72, q = Math.max(5, r * 0.2);
    attrs(g.children[8], { d: `M${-b - q},${-b - q}L${-b + q},${-b + q}M${-b - q},${-b + q}L${-b + q},${-b - q}` });
    attrs(g.children[9], { x: r * 0.85, y: -r * 0.75, "font-size": Math.max(10, r * 0.45) });
    const timers = n.timerList.filter((tm) => tm.due_ms != null);
    attrs(g, { "data-tip": `${n.id} · ${status}${n.role ? ` · ${n.role}` : ""}${drift ? ` · clock rate ×${n.rate}` : ""}\n` +
      (label ? `${label}\n` : "") +
      "The number below is this node's own clock; arcs are its timers running down.\n" +
      "Click or Enter: crash, restart, pause, clock skew and drift. Shift-click or Shift+Enter: select for a partition." });
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

const ID_PX = 18, MIN_PX = 16, LINE_PX = 16, ROLE_PX = 13; // lecture type at 720 px high, CSS px

/** Enter (on key down) or Space (on key up, as buttons do) acts on a focused element;
 * with Shift it selects. The key goes no further (Space does not also play). */
function onActivate(el, act) {
  el.addEventListener("keydown", (ev) => {
    if (ev.key !== "Enter" && ev.key !== " ") return;
    ev.preventDefault();
    ev.stopPropagation();
    if (ev.key === "Enter") act(ev);
  });
  el.addEventListener("keyup", (ev) => {
    if (ev.key !== " ") return;
    ev.preventDefault();
    ev.stopPropagation();
    act(ev);
  });
}

let measurer = null;
const widths = new Map();

/** The width of ``text`` in CSS pixels in ``font`` (measured once). */
function textWidth(value, font) {
  const key = `${font}|${value}`;
  let w = widths.get(key);
  if (w === undefined) {
    measurer ||= document.createElement("canvas").getContext("2d");
    measurer.font = font;
    w = measurer.measureText(value).width;
    if (widths.size > 5000) widths.clear();
    widths.set(key, w);
  }
  return w;
}

/** ``value`` if it fits ``width`` pixels, else its longest start that fits with "…". */
export function fitText(value, font, width) {
  if (!value || textWidth(value, font) <= width) return value;
  let lo = 0, hi = value.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (textWidth(`${value.slice(0, mid)}…`, font) <= width) lo = mid;
    else hi = mid - 1;
  }
  return lo ? `${value.slice(0, lo)}…` : "";
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
