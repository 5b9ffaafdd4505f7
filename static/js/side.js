// The side views: what this scenario shows, metrics with sparklines, the event log and
// the invariant-violation banner.
import { h, s, fmtMs, fmtValue, humanize, fill, keyed, text } from "./dom.js";

const $ = (id) => document.getElementById(id);
const LOG_ROWS = 100;
const FLIGHT_ROWS = 12;

export class Side {
  constructor(app) {
    this.app = app;
    this.shown = 0; // index of the violation in the banner
    $("jump").onclick = () => {
      const v = this.app.store.violations[this.shown];
      if (v) this.app.seek(v.at_ms, v.event);
    };
    $("banner-next").onclick = () => {
      const n = this.app.store.violations.length;
      this.shown = n ? (this.shown + 1) % n : 0;
      this.banner();
    };
    $("log-msgs").onchange = () => this.log();
    this.flightRows = new Map(); // message id -> its row in the In flight list
    $("log").addEventListener("click", (ev) => {
      const li = ev.target.closest("[data-t]");
      if (li) this.app.seek(Number(li.dataset.t), Number(li.dataset.i));
    });
  }

  scenarioChanged() {
    const sc = this.app.scenario || {};
    const meta = this.app.models[sc.model] || {};
    const preset = this.app.presets.find((p) => p.name === sc.name);
    const claims = sc.claims || preset?.claims || [];
    const expected = sc.expected?.violations;
    fill($("info"), 
      h("h2", {}, sc.title || meta.title || sc.model || "Scenario"),
      sc.description ? h("p", { title: "click to read it all", onclick: (ev) => ev.currentTarget.classList.toggle("open") }, sc.description) : null,
      h("p", { class: "small", id: "counts" }, `model ${sc.model} · ${nodeCount(sc)} · seed ${sc.seed}`,
        claims.length ? ` · claims ${claims.join(", ")}` : ""),
      expected ? h("p", { class: "small", title: "The invariants this scenario is expected to violate" },
        expected.length ? `expected to violate: ${expected.join(", ")}` : "expected: no invariant violated") : null,
      meta.invariants?.length ? h("details", {}, h("summary", {}, "Invariants checked after every event"),
        h("ul", {}, meta.invariants.map((i) => h("li", {}, h("b", {}, i.name), `: ${i.description}`)))) : null);
  }

  render(dirty) {
    if (dirty.has("violations") || dirty.has("full")) this.banner();
    if (dirty.has("metrics") || dirty.has("full")) this.metrics();
    if (dirty.has("events") || dirty.has("full")) this.log();
    if (dirty.has("messages") || dirty.has("full")) this.flight();
  }

  /** The messages on the wire, soonest first, each with a Drop button: the keyboard's
   * way to what the dots on the links offer the pointer. */
  flight() {
    const all = this.app.store.messages || [];
    const soonest = [...all].sort((a, b) => a.due_ms - b.due_ms || a.id - b.id).slice(0, FLIGHT_ROWS);
    const control = this.app.canControl;
    keyed($("flight"), this.flightRows, soonest, (m) => m.id, (m) => {
      const label = h("span");
      const drop = h("button", { class: "small", onclick: () => this.app.actions.dropMessage(m) }, "Drop");
      return h("li", {}, label, drop);
    }, (li, m) => {
      const [label, drop] = li.children;
      text(label, `${m.kind} ${m.from} → ${m.to}, arrives at ${fmtMs(m.due_ms)}`);
      drop.setAttribute("aria-label", `Drop ${m.kind} #${m.id} from ${m.from} to ${m.to}`);
      drop.disabled = !control;
    });
    const list = $("flight");
    const rows = soonest.map((m) => this.flightRows.get(m.id));
    if (rows.some((row, i) => list.children[i] !== row)) list.append(...rows); // arrival order
    text($("flight-count"), all.length > soonest.length ? `${soonest.length} of ${all.length}` : `${all.length}`);
  }

  banner() {
    const list = this.app.store.violations || [];
    $("banner").hidden = !list.length;
    if (!list.length) return;
    if (this.shown >= list.length) this.shown = list.length - 1;
    const v = list[this.shown];
    $("banner-text").textContent = `${list.length} invariant violation${list.length > 1 ? "s" : ""} — ` +
      `${v.invariant} at ${fmtMs(v.at_ms)}${v.node ? ` on ${v.node}` : ""}: ${v.detail}` +
      (list.length > 1 ? ` (${this.shown + 1}/${list.length})` : "");
    $("banner-next").hidden = list.length < 2;
  }

  metrics() {
    const st = this.app.store;
    const rows = Object.entries(st.metrics).map(([name, value]) => {
      const pts = st.history.get(name) || [];
      const chart = sparkline(pts);
      return h("tr", {}, h("th", { scope: "row" }, humanize(name)),
        h("td", { class: "num" }, typeof value === "object" && value && "p50" in value
          ? `p50 ${fmtValue(value.p50)} · p99 ${fmtValue(value.p99)} · n ${value.count}` : fmtValue(value)),
        h("td", { class: "spark", title: chart.title }, chart.el));
    });
    fill($("metrics"), h("table", { class: "grid metrics" }, h("tbody", {}, rows)));
  }

  log() {
    const withMsgs = $("log-msgs").checked;
    const events = this.app.store.events;
    const key = `${withMsgs}/${this.app.store.gen}/${events.length ? events[events.length - 1].i : -1}`;
    if (key === this.logKey) return;
    this.logKey = key;
    const rows = [];
    for (let j = events.length - 1; j >= 0 && rows.length < LOG_ROWS; j--) {
      const e = events[j];
      if (!withMsgs && (e.kind === "send" || e.kind === "deliver")) continue;
      rows.push(e);
    }
    rows.reverse();
    const ol = $("log");
    const stick = ol.scrollTop + ol.clientHeight >= ol.scrollHeight - 20;
    fill(ol, ...rows.map((e) => h("li", { class: `ev ${e.kind}`, "data-t": e.t_us / 1000, "data-i": e.i,
      title: "click to seek here" }, h("time", {}, fmtMs(e.t_us / 1000)), h("b", {}, e.node || "—"), describe(e))));
    if (stick) ol.scrollTop = ol.scrollHeight;
  }
}

/** "5 nodes + 2 helpers (client, storage)": the protocol's group and those apart from it. */
function nodeCount(sc) {
  const helpers = sc.helpers || [];
  const group = sc.node_ids ? sc.node_ids.length - helpers.length : sc.nodes;
  return `${group ?? "?"} node${group === 1 ? "" : "s"}` +
    (helpers.length ? ` + ${helpers.length} helper${helpers.length > 1 ? "s" : ""} (${helpers.join(", ")})` : "");
}

export function describe(e) {
  switch (e.kind) {
    case "send": return `sends ${e.msg} to ${e.to}`;
    case "deliver": return `receives ${e.msg} from ${e.from}`;
    case "drop": return `loses ${e.msg} from ${e.from} (${e.reason})`;
    case "timer": return `timer ${e.timer} fires`;
    case "command": return `⚡ ${fmtValue(e.command)}`;
    case "note":
    case "fact": return `${e.text}${e.fields && Object.keys(e.fields).length ? ` (${fmtValue(e.fields)})` : ""}`;
    case "violation": return `✖ ${e.invariant}: ${e.detail}`;
    case "start": return "starts";
    default: return e.kind;
  }
}

/** A tiny line chart of a metric; a counter that only grows is drawn as its rate. */
function sparkline(pts) {
  const W = 90, H = 22;
  if (pts.length < 2) return { el: "", title: "" };
  let series = pts;
  let rate = pts.every((p, i) => i === 0 || p[1] >= pts[i - 1][1]) && pts[pts.length - 1][1] > pts[0][1];
  if (rate) {
    // Rate per simulated second over windows of about a tenth of the span.
    const span = pts[pts.length - 1][0] - pts[0][0];
    const win = Math.max(span / 20, 1e-6);
    series = [];
    let j = 0;
    for (let i = 1; i < pts.length; i++) {
      while (pts[i][0] - pts[j][0] > win && j < i - 1) j++;
      const dt = pts[i][0] - pts[j][0];
      if (dt > 0) series.push([pts[i][0], ((pts[i][1] - pts[j][1]) * 1000) / dt]);
    }
    if (series.length < 2) return { el: "", title: "" };
  }
  const t0 = series[0][0], t1 = series[series.length - 1][0] || 1;
  const vs = series.map((p) => p[1]);
  const lo = Math.min(...vs), hi = Math.max(...vs);
  const x = (t) => ((t - t0) / (t1 - t0 || 1)) * (W - 2) + 1;
  const y = (v) => H - 2 - ((v - lo) / (hi - lo || 1)) * (H - 4);
  const d = series.map((p, i) => `${i ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join("");
  return {
    el: s("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, class: rate ? "rate" : "" }, s("path", { d })),
    title: rate ? `rate per simulated second: ${fmtValue(lo)} … ${fmtValue(hi)}` : `from ${fmtValue(lo)} to ${fmtValue(hi)}`,
  };
}
