// Two-phase commit: transactions with every participant's vote and outcome, row locks
// with how long each has been held, waiting work, and commits per second.
import { h, s, fmtMs, fill } from "../dom.js";
import { table, section } from "./generic.js";

export function render(el, store, t) {
  const p = store.panel || {};
  const txs = p.transactions || [];
  const locks = p.locks || [];
  const cps = p.commits_per_second || [];
  fill(el, 
    section("Transactions", table(txs.slice(-10), ["tx", "status", "votes", "outcomes", "rows"], {
      rowClass: (r) => (/violated/.test(r.status) ? "bad" : null),
      cell: (c, v, r) => (c === "status" ? h("td", { class: statusClass(v) }, v)
        : c === "votes" ? h("td", {}, Object.entries(v || {}).map(([pt, vote]) =>
          h("span", { class: `chip`, style: `--h:${vote === true || vote === "yes" ? 140 : 0}`, title: `${pt} voted ${vote ? "yes" : "no"}` }, `${pt} ${vote === true || vote === "yes" ? "✓" : "✗"}`)))
        : c === "outcomes" ? h("td", {}, Object.entries(v || {}).map(([pt, o]) =>
          h("span", { class: "chip", style: `--h:${/commit/.test(o) ? 140 : 0}`, title: `${pt}: ${o}` }, `${pt} ${/commit/.test(o) ? "C" : "A"}`)))
        : c === "rows" ? h("td", { class: "small" }, Object.entries(v || {}).map(([pt, row]) => `${pt}[${row}]`).join(" "))
        : undefined) })),
    section(`Row locks (${locks.length})`, locks.length ? table(locks.map((l) => ({ ...l, held: t - l.since_ms })),
      ["participant", "row", "tx", "held"], {
        cell: (c, v) => (c === "held" ? h("td", { class: `num${v > 1000 ? " bad" : ""}` }, fmtMs(Math.max(0, v))) : undefined) })
      : h("p", { class: "small" }, "no lock held")),
    (p.queues || []).length ? section("Waiting for a lock", table(p.queues, ["participant", "row", "waiting"])) : null,
    cps.length ? section("Commits per second", bars(cps)) : null);
}

function statusClass(v) {
  return /commit/.test(v) ? "good" : /abort|violated|lost/.test(v) ? "bad" : null;
}

/** A bar per simulated second: throughput collapses while a 2PC blocks. */
export function bars(values) {
  const W = 360, H = 48, n = values.length, max = Math.max(1, ...values);
  const bw = W / Math.max(n, 1);
  return s("svg", { class: "bars", viewBox: `0 0 ${W} ${H + 12}`, width: "100%" },
    values.map((v, i) => s("rect", { x: i * bw + 0.5, width: Math.max(1, bw - 1), y: H - (v / max) * H, height: (v / max) * H },
      s("title", { text: `second ${i}: ${v} commits` }))),
    s("text", { x: 0, y: H + 11, "font-size": 10 }, "0 s"),
    s("text", { x: W, y: H + 11, "font-size": 10, "text-anchor": "end" }, `${n} s · max ${max}/s`));
}

export function nodeLabel(sm) {
  if (sm.kind === "coordinator") return `active ${(sm.active || []).length} · log ${sm.log_length ?? 0}`;
  return `locks ${(sm.locks || []).length}${sm.in_doubt?.length ? ` · in doubt ${sm.in_doubt.length}` : ""}`;
}
