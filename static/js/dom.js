// Small DOM helpers shared by every view: element builders and keyed reuse.
export const SVGNS = "http://www.w3.org/2000/svg";

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    // Through the CSSOM: the page's Content-Security-Policy refuses style attributes.
    else if (k === "style") el.style.cssText = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** An HTML element: h("button", {class: "x", onclick: f}, "label"). */
export const h = (tag, attrs, ...children) => build(document.createElement(tag), attrs, children);

/** An SVG element. */
export const s = (tag, attrs, ...children) =>
  build(document.createElementNS(SVGNS, tag), attrs, children);

/** Replace an element's children, skipping null and false. */
export function fill(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c != null && c !== false));
  return el;
}

/** Set attributes, touching the DOM only where a value changed. */
export function attrs(el, values) {
  const cache = el._a || (el._a = {});
  for (const k in values) {
    const v = values[k];
    if (cache[k] === v) continue;
    cache[k] = v;
    if (v == null) el.removeAttribute(k);
    else el.setAttribute(k, v);
  }
}

export function text(el, value) {
  const v = String(value);
  if (el._t !== v) { el._t = v; el.textContent = v; }
}

/**
 * Reconcile ``parent``'s children with ``items`` keyed by ``key``: reuse the element of
 * each key, create missing ones, remove the rest. ``pool`` is a Map kept by the caller.
 */
export function keyed(parent, pool, items, key, create, update) {
  const seen = new Set();
  for (const item of items) {
    const k = key(item);
    seen.add(k);
    let el = pool.get(k);
    if (!el) { el = create(item, k); pool.set(k, el); parent.append(el); }
    update(el, item, k);
  }
  for (const [k, el] of pool) {
    if (!seen.has(k)) { el.remove(); pool.delete(k); }
  }
}

export const fmtMs = (ms) => (ms == null ? "–" : ms >= 10000 ? `${(ms / 1000).toFixed(2)} s`
  : `${Math.round(ms * 10) / 10} ms`);

export function fmtValue(v) {
  if (v == null) return "–";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(3).replace(/0+$/, "").replace(/\.$/, "");
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (typeof v === "string") return v;
  if (Array.isArray(v)) return v.length > 12 ? `[${v.slice(0, 12).map(fmtValue).join(", ")}, … ${v.length}]` : `[${v.map(fmtValue).join(", ")}]`;
  return Object.entries(v).map(([k, x]) => `${k}: ${fmtValue(x)}`).join(", ");
}

/** A stable colour for a label (roles and phases the UI does not know by name). */
export function hue(label) {
  let x = 7;
  for (const c of String(label)) x = (x * 31 + c.charCodeAt(0)) % 360;
  return x;
}

export const humanize = (name) => String(name).replace(/[_-]+/g, " ").replace(/^./, (c) => c.toUpperCase());

/**
 * Tooltips for many SVG elements without a <title> each: an element carries its text in
 * ``data-tip`` and gets a <title> only when the pointer first reaches it.
 */
export function lazyTips(root) {
  root.addEventListener("mouseover", (ev) => {
    const el = ev.target.closest?.("[data-tip]");
    if (!el) return;
    let title = el.querySelector(":scope > title");
    if (!title) el.append((title = document.createElementNS(SVGNS, "title")));
    title.textContent = el.dataset.tip;
  });
}
