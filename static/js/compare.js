// The compare view: run b of a pair drawn beside run a, one set of controls for both,
// the first moment the runs part marked on the timeline and in both diagrams, and their
// metrics side by side. The server runs the pair and says where it parts; this draws.
import { Connection } from "./connection.js";
import { Store } from "./store.js";
import { ClusterView } from "./cluster.js";
import { SpaceTime } from "./spacetime.js";
import { h, s, fill, fmtMs, fmtValue, humanize } from "./dom.js";

const $ = (id) => document.getElementById(id);

export class Compare {
  constructor(app) {
    this.app = app;
    this.run = null; // run b: {session, conn, store, cluster, spacetime, pair}
    this.lastTable = 0;
    $("compare").onclick = (ev) => this.dialog(ev);
  }

  /** The session's scenario changed: enter the split view for a pair, leave it otherwise. */
  scenarioChanged(sc) {
    const pair = sc?.pair;
    if (pair && pair.side === "a") {
      if (this.run?.session !== pair.b) this.enter(pair);
      else this.run.pair = { ...this.run.pair, ...pair };
    } else if (this.run) this.leave();
  }

  enter(pair) {
    this.leave();
    const app = this.app;
    document.body.classList.add("compare");
    const ringA = document.querySelector("#stage .ring");
    ringA.dataset.run = "a";
    const svg = s("svg", { class: "cluster", role: "img", "aria-label": "Cluster view, run b" });
    const ringB = h("div", { class: "ring", "data-run": "b" }, svg);
    const rings = h("div", { class: "rings" });
    ringA.replaceWith(rings);
    rings.append(ringA, ringB);
    for (const [ring, side] of [[ringA, "a"], [ringB, "b"]]) {
      ring.prepend(h("div", { class: "runhead", "data-side": side },
        h("b", {}, side), h("span", { class: "setting" }), h("span", { class: "verdict" })));
    }
    const box = h("div", { id: "spacetime-b", class: "stbox", role: "img", "data-run": "b",
      "aria-label": "Space-time diagram, run b" });
    $("spacetime").dataset.run = "a";
    $("spacetime").after(box);
    const diffs = [$("spacetime"), box].map((b) => {
      const mark = h("div", { class: "stdiff", hidden: true, title: "The first moment the two runs differ" });
      b.append(mark);
      return mark;
    });
    const onTimeline = h("button", { class: "diffmark", hidden: true, "aria-label": "First difference" });
    onTimeline.onclick = () => this.run?.pair?.first_difference && app.seek(this.run.pair.first_difference.at_ms);
    document.querySelector("#controls .timeline").append(onTimeline);
    const card = h("section", { id: "compare-card", class: "card" },
      h("h2", { title: "Both runs' metrics; a row that differs is highlighted" }, "Compare"),
      h("p", { class: "small", id: "compare-diff" }),
      app.conn.token && h("p", {}, h("a", { class: "button", id: "export-trace-b", download: "trace-b.json",
        href: `/api/sessions/${pair.b}/trace.json?token=${encodeURIComponent(app.conn.token)}`,
        title: "Download every trace record of run b as JSON (Trace JSON in More is run a's)" }, "Trace JSON of run b")),
      h("div", { id: "compare-table" }));
    $("info").after(card);
    const store = new Store();
    const run = { session: pair.b, store, pair, diffs, onTimeline, card, rings, ringA, ringB, box };
    run.cluster = new ClusterView(svg, {
      node: (id, ev) => app.actions.nodeClicked(id, ev),
      link: (a, b, ev) => app.actions.linkClicked(a, b, ev),
      message: () => app.toast("drop messages on run a: an action applies to both runs"),
    });
    run.spacetime = new SpaceTime(box, (t) => app.seek(t));
    run.conn = new Connection((f) => {
      store.apply(f);
      if (store.pair) run.pair = store.pair;
      run.dirty = true;
    }, () => {});
    this.run = run;
    run.conn.join(pair.b, null).then((res) => {
      if (!res.ok) app.toast(`Could not follow run b: ${res.error}`, true);
    });
  }

  leave() {
    const run = this.run;
    if (!run) return;
    this.run = null;
    run.conn.socket.disconnect();
    run.rings.replaceWith(run.ringA);
    run.ringA.querySelector(".runhead")?.remove();
    delete run.ringA.dataset.run;
    delete $("spacetime").dataset.run;
    for (const el of [run.box, run.onTimeline, run.card, ...run.diffs]) el.remove();
    document.body.classList.remove("compare");
  }

  /** Draw run b and the marks at simulated time ``t`` of run a (every animation frame). */
  render(now, t) {
    const run = this.run;
    if (!run) return;
    const app = this.app;
    const store = run.store;
    const tb = store.simTime(now);
    run.cluster.colours = app.cluster.colours;
    run.cluster.label = app.cluster.label;
    run.cluster.helpers = app.cluster.helpers;
    if (store.order.length) {
      run.cluster.render(store, tb);
      run.spacetime.render(store, tb);
    }
    const diff = run.pair?.first_difference;
    const dur = app.store.duration_ms || 1;
    run.onTimeline.hidden = !diff;
    if (diff) {
      run.onTimeline.style.left = `${(100 * diff.at_ms) / dur}%`;
      run.onTimeline.title = `The runs first differ at ${fmtMs(diff.at_ms)} (trace record #${diff.event})`;
    }
    [[app.spacetime, app.store, t, run.diffs[0]], [run.spacetime, store, tb, run.diffs[1]]].forEach(([st, sto, at, mark]) => {
      const k = sto.order.length ? st.geometry(sto).k : 0;
      const px = diff ? (at - diff.at_ms) * k : -1;
      mark.hidden = !diff || px < 0 || at - diff.at_ms > st.windowMs;
      if (!mark.hidden) mark.style.right = `${12 + px}px`;
    });
    if (now - this.lastTable > 250 && (run.dirty || app.store.metrics !== this.shownA)) {
      this.lastTable = now;
      run.dirty = false;
      this.shownA = app.store.metrics;
      this.table();
    }
  }

  /** The run headings, each run's verdict, where they part and the metrics table. */
  table() {
    const run = this.run;
    const app = this.app;
    const sc = app.scenario || {};
    const set = run.pair?.set || {};
    const stores = { a: app.store, b: run.store };
    for (const side of ["a", "b"]) {
      const head = document.querySelector(`.runhead[data-side=${side}]`);
      const words = Object.entries(set).map(([k, v]) =>
        `${k} = ${JSON.stringify(side === "b" ? v : (sc.variant?.[k] ?? sc.params?.[k]))}`);
      head.querySelector(".setting").textContent = words.join(", ");
      const vs = stores[side].violations || [];
      const verdict = head.querySelector(".verdict");
      verdict.className = `verdict${vs.length ? " bad" : ""}`;
      verdict.textContent = vs.length ? `✗ ${[...new Set(vs.map((v) => v.invariant))].join(", ")} at ${fmtMs(vs[0].at_ms)}` : "no violation";
    }
    const diff = run.pair?.first_difference;
    $("compare-diff").textContent = diff
      ? `The runs first differ at ${fmtMs(diff.at_ms)}: a ${describe(diff.a)}; b ${describe(diff.b)}.`
      : "The runs have not differed yet.";
    const deltas = run.pair?.deltas || {};
    const names = [...new Set([...Object.keys(app.store.metrics), ...Object.keys(run.store.metrics)])].sort();
    const cell = (v) => h("td", { class: "num" }, v && typeof v === "object" && "p50" in v ? `p50 ${fmtValue(v.p50)}` : fmtValue(v));
    const differs = (n) => n in deltas || JSON.stringify(app.store.metrics[n]) !== JSON.stringify(run.store.metrics[n]);
    const rows = [...names.filter(differs), ...names.filter((n) => !differs(n))].map((n) =>
      h("tr", { class: differs(n) ? "differs" : "" }, h("th", { scope: "row" }, humanize(n)),
        cell(app.store.metrics[n]), cell(run.store.metrics[n])));
    fill($("compare-table"), h("table", { class: "grid metrics compare-metrics" },
      h("thead", {}, h("tr", {}, h("th", {}, "metric"), h("th", {}, "a"), h("th", {}, "b"))), h("tbody", {}, rows)));
  }

  /** Pick one switch or parameter to change, and open the pair. */
  dialog(ev) {
    ev.stopPropagation(); // the page closes menus on a click elsewhere
    const app = this.app;
    const info = app.models[app.scenario?.model];
    if (!info) return app.toast("the model's switches are not known yet", true);
    const sc = app.scenario;
    const choices = [];
    for (const v of info.variants) {
      const now = sc.variant?.[v.name] ?? v.default;
      for (const c of v.choices.length ? v.choices : [true, false]) {
        if (JSON.stringify(c) !== JSON.stringify(now)) choices.push([v.name, c, `${v.name}: ${JSON.stringify(now)} → ${JSON.stringify(c)}`]);
      }
    }
    const select = h("select", { "aria-label": "What to change" },
      ...choices.map(([n, c, label], i) => h("option", { value: String(i) }, label)),
      ...info.params.map((p) => h("option", { value: `p:${p.name}` }, `${p.name} (now ${JSON.stringify(sc.params?.[p.name] ?? p.default)}) →`)));
    const value = h("input", { type: "text", "aria-label": "New value", placeholder: "new value (JSON)", hidden: true });
    select.onchange = () => { value.hidden = !select.value.startsWith("p:"); };
    select.onchange();
    const go = h("button", {}, "Open side by side");
    const close = h("button", {}, "Close");
    app.actions.openMenu(ev, "Compare: the same run with one thing changed",
      h("p", { class: "small" }, "Both runs share the seed, the scenario and every action you take from now on."),
      h("div", { class: "row" }, select, value), h("div", { class: "row" }, go, close));
    close.onclick = () => app.actions.closeMenu();
    go.onclick = async () => {
      let setting;
      if (select.value.startsWith("p:")) {
        let v;
        try { v = JSON.parse(value.value); } catch { v = value.value; }
        setting = { [select.value.slice(2)]: v };
      } else {
        const [n, c] = choices[Number(select.value)] || [];
        if (!n) return;
        setting = { [n]: c };
      }
      app.actions.closeMenu();
      await app.create(app.links.share || sc.name, false, { compare: setting });
    };
  }
}

function describe(rec) {
  if (!rec) return "has ended";
  const what = rec.msg ? `${rec.kind} ${rec.msg}${rec.to ? ` → ${rec.to}` : ""}` : rec.text || rec.timer || rec.kind;
  return `${rec.node ?? ""} ${what}`.trim();
}
