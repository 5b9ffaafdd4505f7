// Dual write and the transactional outbox: the service's table and outbox, the relay,
// the broker's queue and the consumer, left to right, with lost and phantom events.
import { h, fmtValue, fill } from "../dom.js";
import { table, section } from "./generic.js";

const list = (xs, empty = "empty") => (xs && xs.length ? fmtValue(xs) : h("span", { class: "small" }, empty));

export function render(el, store) {
  const p = store.panel || {};
  const lost = new Set((p.lost || []).map(String));
  const phantoms = p.phantoms || [];
  const relay = p.relay || {}, broker = p.broker || {}, consumer = p.consumer || {};
  const log = broker.log || [];
  fill(el, 
    h("p", { class: "small" }, "mode ", h("b", {}, String(p.mode ?? "?")),
      lost.size ? h("span", { class: "bad" }, ` · lost events: ${[...lost].join(", ")}`) : " · no event lost",
      phantoms.length ? h("span", { class: "bad" }, ` · phantom events: ${phantoms.join(", ")}`) : ""),
    h("div", { class: "pipeline" },
      stage("Service", h("div", {}, "outbox rows ", list(p.outbox)),
        p.unpublished?.length ? h("div", {}, "not yet published ", list(p.unpublished)) : null,
        p.uncommitted?.length ? h("div", { class: "bad" }, "uncommitted ", list(p.uncommitted)) : null),
      stage("Relay", h("div", {}, "publishing ", list(relay.in_flight, "none")),
        h("div", {}, "acked, to delete ", list(relay.awaiting_delete, "none")),
        h("div", { class: "small" }, `polls ${relay.polls ?? 0} · published ${relay.published ?? 0}`)),
      stage("Broker", h("div", { class: "cells" }, log.slice(-24).map((e) =>
        h("span", { style: `--h:${broker.unacked?.includes(e.offset) ? 35 : 200}`, title: `offset ${e.offset}: order ${e.order}` }, String(e.order)))),
        h("div", { class: "small" }, `${log.length} in log · unacked ${fmtValue(broker.unacked || [])}`)),
      stage("Consumer", h("div", {}, `stock ${consumer.stock ?? "?"}`),
        h("div", { class: "small" }, `processed ${fmtValue(consumer.processed || [])}`),
        p.ordered_consumer ? h("div", { class: "small" }, `next in order ${consumer.next_seq ?? "?"} · held `, list(consumer.held, "none")) : null)),
    section("Orders", table(p.orders || [], ["order", "item", "consumed"], {
      rowClass: (r) => (lost.has(String(r.order)) || r.consumed > 1 ? "bad" : null),
      cell: (c, v, r) => (c === "consumed" ? h("td", { class: "num", title: v > 1 ? "applied more than once" : v ? "" : "not (yet) applied" },
        v > 1 ? `${v} ×` : String(v)) : undefined) })));
}

function stage(title, ...body) {
  return h("div", { class: "pstage" }, h("h3", {}, title), ...body);
}
