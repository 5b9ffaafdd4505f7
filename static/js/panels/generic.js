// The fallback panel: any model's node summaries and panel data as tables, so a new
// model shows up without a line of JavaScript. Model panels reuse its helpers.
import { h, fmtValue, humanize, fill } from "../dom.js";

/** A table from a list of row objects; ``columns`` defaults to the union of keys. */
export function table(rows, columns, opts = {}) {
  const cols = columns || [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return h("table", { class: `grid ${opts.class || ""}` },
    opts.caption ? h("caption", {}, opts.caption) : null,
    h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, humanize(c))))),
    h("tbody", {}, rows.map((r) => h("tr", { class: opts.rowClass ? opts.rowClass(r) : null },
      cols.map((c) => cell(r[c], c, r, opts))))));
}

function cell(v, c, row, opts) {
  if (opts.cell) {
    const custom = opts.cell(c, v, row);
    if (custom !== undefined) return custom;
  }
  return h("td", { class: typeof v === "number" ? "num" : null }, fmtValue(v));
}

/** Key/value pairs as a small definition list. */
export function pairs(obj) {
  return h("dl", { class: "pairs" }, Object.entries(obj).flatMap(([k, v]) => [h("dt", {}, humanize(k)), h("dd", {}, fmtValue(v))]));
}

export function section(title, ...body) {
  return h("section", { class: "psec" }, h("h3", {}, title), ...body);
}

/** Every node's summary as one table (rows: nodes). */
export function nodeTable(store, opts) {
  const rows = store.order.map((id) => {
    const n = store.node(id);
    return { node: id, status: n.status, role: n.role, ...(n.summary || {}) };
  });
  return table(rows, null, { rowClass: (r) => r.status, ...opts });
}

/** Any JSON value as tables where it is tabular, pairs where it is flat. */
export function anyValue(title, v) {
  if (Array.isArray(v) && v.length && v.every((x) => x && typeof x === "object" && !Array.isArray(x))) {
    return section(humanize(title), table(v));
  }
  if (v && typeof v === "object" && !Array.isArray(v)) {
    const vals = Object.values(v);
    if (vals.length && vals.every((x) => x && typeof x === "object" && !Array.isArray(x))) {
      return section(humanize(title), table(Object.entries(v).map(([k, x]) => ({ "": k, ...x }))));
    }
    return section(humanize(title), pairs(v));
  }
  return section(humanize(title), h("p", {}, fmtValue(v)));
}

export function render(el, store) {
  const parts = [section("Nodes", nodeTable(store))];
  const panel = store.panel || {};
  for (const [k, v] of Object.entries(panel)) parts.push(anyValue(k, v));
  fill(el, ...parts);
}
