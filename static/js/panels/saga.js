// Sagas: each saga's steps and compensations as a strip, the services' tables, and the
// windows in which an observer could see the inconsistent middle.
import { h, fmtMs, fmtValue, fill } from "../dom.js";
import { table, section } from "./generic.js";

const SYMBOL = { pending: "·", running: "…", done: "✓", rejected: "✗", compensating: "↶…",
  compensated: "↶", "given up": "⚠" };
const STATUS_HUE = { pending: 220, running: 210, done: 140, rejected: 0, compensating: 35,
  compensated: 280, "given up": 0 };

export function render(el, store, t) {
  const p = store.panel || {};
  const steps = p.steps || [];
  const sagas = p.sagas || [];
  const rows = sagas.slice(-12).map((sg) => h("tr", { class: sg.inconsistent_since_us != null ? "bad" : null },
    h("td", {}, String(sg.saga)), h("td", { title: sg.reason || "" }, sg.phase),
    h("td", {}, h("div", { class: "strip" }, (sg.steps || []).map((st, i) => h("span", {
      class: "chip", style: `--h:${STATUS_HUE[st] ?? 200}`,
      title: `${steps[i]?.action}: ${st}${/compensat/.test(st) ? ` (${steps[i]?.compensation})` : ""}` }, SYMBOL[st] ?? st)))),
    h("td", { class: "small" }, truth(sg.truth),
      sg.inconsistent_since_us != null ? h("div", { class: "bad" }, `inconsistent for ${fmtMs(t - sg.inconsistent_since_us / 1000)}`) : null)));
  const head = h("tr", {}, h("th", {}, "saga"), h("th", {}, "phase"),
    h("th", { title: steps.map((s) => `${s.action} (undo: ${s.compensation || "none"})`).join(" → ") }, "steps"), h("th", {}, "what the services hold"));
  const windows = p.inconsistency_windows_ms || [];
  fill(el, 
    section(`Sagas (${sagas.length})`,
      h("p", { class: "small" }, steps.map((s) => s.action.replace(/_/g, " ")).join(" → "),
        " · ✓ done, ✗ rejected, ↶ compensated"),
      h("table", { class: "grid saga" }, h("thead", {}, head), h("tbody", {}, rows))),
    section("Inconsistency windows", windows.length
      ? h("p", {}, `${windows.length} closed · longest ${fmtMs(Math.max(...windows))} · last ${fmtMs(windows[windows.length - 1])}`)
      : h("p", { class: "small" }, "none closed yet")),
    section("Service tables", ...Object.entries(p.tables || {}).map(([svc, tbl]) =>
      h("div", {}, h("b", {}, svc), " ", h("span", { class: "small" }, fmtValue(tbl))))));
}

function truth(tr) {
  if (!tr) return "";
  return [tr.order && `order ${tr.order}`, `charged $${tr.charged ?? 0}`, tr.refunded ? `refunded $${tr.refunded}` : null,
    tr.reserved ? `reserved ${tr.reserved}` : null, tr.shipment ? `shipment ${tr.shipment}` : null].filter(Boolean).join(" · ");
}

export function nodeLabel(summary) {
  if ("started" in summary) return `sagas ${summary.started} · running ${summary.running}`;
  return `processed ${summary.processed ?? 0}`;
}
