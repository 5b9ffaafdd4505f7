// Idempotency keys: the key store (with how long each STARTED key has been locked) beside
// the ledger, so a duplicate charge stands out.
import { h, fill } from "../dom.js";
import { table, section } from "./generic.js";

export function render(el, store) {
  const p = store.panel || {};
  const dup = new Set(p.double_charged || []);
  fill(el, 
    h("p", { class: "small" }, `mode: `, h("b", {}, p.mode ?? "?"),
      p.recovery && p.recovery !== "none" ? [` · recovery: `, h("b", {}, p.recovery)] : null,
      p.processor ? [` · processor: `, h("b", { class: p.processor === "plain" ? "bad" : null }, p.processor)] : null,
      dup.size ? h("span", { class: "bad" }, ` · double-charged: ${[...dup].join(", ")}`) : " · no payment charged twice"),
    section(`Key store (${p.key_store_size ?? 0} keys)`, (p.key_store || []).length
      ? table(p.key_store, ["key", "status", "locked_ms", "charge_id", "amount"], {
        cell: (c, v) => (c === "status" ? h("td", { class: v === "COMPLETED" ? "good" : null }, v) : undefined) })
      : h("p", { class: "small" }, "empty")),
    section(`Ledger (${p.ledger_size ?? 0} charges)`, (p.ledger || []).length
      ? table(p.ledger, ["charge_id", "payment", "amount", "duplicate"], { rowClass: (r) => (r.duplicate ? "bad" : null) })
      : h("p", { class: "small" }, "no charge yet")),
    section("Server workers", h("div", { class: "cells" }, (p.workers || []).map((w) =>
      h("span", { style: `--h:${w ? 200 : 0}`, title: w ? `${w.payment} from ${w.client}: ${w.phase}` : "idle" },
        w ? `${w.payment} ${w.phase}` : "idle"))),
      p.queue?.length ? h("p", { class: "small" }, `queued: ${p.queue.join(", ")}`) : null),
    section("Clients", table(p.clients || [], ["client", "outstanding", "paid", "gave_up", "rejected"])));
}
