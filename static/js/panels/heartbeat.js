// Failure detection: the detector's view of each worker beside the truth.
import { h, fill } from "../dom.js";
import { table, section, pairs } from "./generic.js";

export function render(el, store) {
  const p = store.panel || {};
  const views = p.views || [];
  fill(el, 
    h("p", { class: "small" }, `mode ${p.mode} · detector ${p.detector}` + (p.k != null ? ` · down after ${p.k} misses, up after ${p.m} successes` : "")),
    section("Detector's view vs truth", table(views, ["worker", "health", "truth", "last_heard_ms_ago", "misses", "successes", "phi"], {
      rowClass: (r) => (wrong(r) ? "bad" : null),
      cell: (c, v, r) => (c === "health" ? h("td", { class: v === "down" || v === "DOWN" ? "bad" : "good",
        title: wrong(r) ? "the detector disagrees with the truth" : "" }, String(v)) : undefined) })),
    p.registry ? section("Registry", pairs(p.registry)) : null,
    section(`False suspicions (${(p.false_suspicions || []).length})`, (p.false_suspicions || []).length
      ? table(p.false_suspicions, ["worker", "at_ms"]) : h("p", { class: "small" }, "none so far")));
}

/** The detector says down while the worker runs, or up while it does not. */
function wrong(r) {
  const down = /down|dead/i.test(String(r.health));
  const alive = r.truth === "alive";
  return down === alive;
}

export function nodeLabel(summary) {
  if ("queue" in summary) return `queue ${summary.queue}/${summary.queue_max} · down ${(summary.down || []).join(",") || "–"}`;
  return `pulses ${summary.pulses_sent ?? 0} · probes ${summary.probes_answered ?? 0}`;
}
