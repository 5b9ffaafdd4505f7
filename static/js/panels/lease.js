// Leases: what the lock service says (the truth) beside what each node believes on its
// own clock, so two leaders at once are plain to see; and the fenced store.
import { h, fmtMs, fill } from "../dom.js";
import { table, section, pairs } from "./generic.js";

export function render(el, store) {
  const p = store.panel || {};
  const truth = p.truth || {};
  const beliefs = p.beliefs || [];
  const leaders = beliefs.filter((b) => b.believes_leader);
  const wrong = (b) => b.believes_leader && (b.node !== truth.holder || truth.expired);
  fill(el,
    h("p", {}, "Lock service: lease held by ", h("b", {}, truth.holder ?? "nobody"),
      truth.holder ? ` (epoch ${truth.epoch}) until ${fmtMs(truth.lease_expiry_ms)} on its clock, now ${fmtMs(truth.clock_ms)}` : "",
      truth.expired && truth.holder ? h("span", { class: "bad" }, " · expired") : ""),
    leaders.length > 1 ? h("p", { class: "bad" }, `${leaders.length} nodes believe they lead: ${leaders.map((b) => b.node).join(", ")}`) : null,
    section("Each node's belief (expiry, clock and time left on its own clock)", table(beliefs.map((b) => ({
      node: b.node, believes: b.believes_leader ? "leader" : "–", epoch: b.epoch,
      expiry: b.believes_leader ? fmtMs(b.lease_expiry_ms) : "–", clock: fmtMs(b.clock_ms),
      left: b.believes_leader ? fmtMs(b.remaining_ms) : "–", rate: b.clock_rate, _wrong: wrong(b),
    })), ["node", "believes", "epoch", "expiry", "clock", "left", "rate"], {
      rowClass: (r) => (r._wrong ? "bad" : null),
    })),
    p.store ? section("Store", pairs(p.store)) : null);
}

export function nodeLabel(sm) {
  if ("holder" in sm) return `holder ${sm.holder ?? "–"} · epoch ${sm.epoch}`;
  if ("max_epoch" in sm) return `epoch ${sm.max_epoch} · ok ${sm.accepted} · refused ${sm.rejected}`;
  return `${sm.leader ? "leads" : "waits"} · epoch ${sm.epoch}`;
}
