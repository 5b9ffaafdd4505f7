// Everything a user does to the run: presets and variants (new sessions), node and link
// menus, dropping messages, partitions and each model's client requests.
import { h, humanize, fill } from "./dom.js";

const $ = (id) => document.getElementById(id);

export class Actions {
  constructor(app) {
    this.app = app;
    $("preset").onchange = () => this.pickPreset($("preset").value);
    $("partition").onclick = () => this.partition();
    $("heal-all").onclick = () => app.act({ type: "heal" }, "healed every link");
    $("watch").onclick = () => this.copy(app.links.watch, "watch link");
    $("export-svg").onclick = () => this.exportSVG();
    document.addEventListener("click", (ev) => {
      const menu = $("menu");
      if (!menu.hidden && !menu.contains(ev.target) && !ev.target.closest(".node, .link")) this.closeMenu();
    });
    $("menu").addEventListener("keydown", (ev) => this.menuKey(ev));
  }

  get meta() {
    return this.app.models[this.app.scenario?.model] || {};
  }

  fillPresets() {
    const sel = $("preset");
    const byModel = new Map();
    for (const p of this.app.presets) {
      if (!byModel.has(p.model)) byModel.set(p.model, []);
      byModel.get(p.model).push(p);
    }
    fill(sel, h("option", { value: "" }, "— choose a scenario —"),
      ...[...byModel].map(([model, list]) => h("optgroup", { label: this.app.models[model]?.title || model },
        list.map((p) => h("option", { value: p.name, title: `${p.description || ""} ${claimText(p)}` },
          `${p.title} ${p.claims?.length ? `(${p.claims.join(", ")})` : ""}`)))));
    this.syncPreset();
  }

  /** Show the session's preset in the picker, or name its custom scenario. */
  syncPreset() {
    const sc = this.app.scenario;
    const sel = $("preset");
    if (!sc || !sel.options.length) return;
    sel.options[0].textContent = sc.name ? "— choose a scenario —" : `custom: ${sc.title || sc.model}`;
    sel.value = sc.name && [...sel.options].some((o) => o.value === sc.name) ? sc.name : "";
  }

  pickPreset(name) {
    if (!name) return;
    if (!this.app.canControl && !confirm("Leave the presenter's session and start your own?")) {
      this.syncPreset();
      return;
    }
    this.app.create(name);
  }

  modelChanged() {
    const sc = this.app.scenario;
    if (!sc) return;
    this.syncPreset();
    this.fillVariants();
    this.fillClient();
  }

  fillVariants() {
    const sc = this.app.scenario;
    const variants = this.meta.variants || [];
    $("variant-card").hidden = !variants.length;
    fill($("variants"), ...variants.map((v) => {
      const current = sc.variant?.[v.name] ?? v.default;
      const choices = v.choices && v.choices.length ? v.choices : [false, true];
      const id = `variant-${v.name}`;
      const sel = h("select", { id, "aria-label": humanize(v.name), disabled: !this.app.canControl },
        choices.map((c) => h("option", { value: JSON.stringify(c), selected: c === current },
          `${String(c)}${(v.broken || []).includes(c) ? " (broken)" : ""}`)));
      sel.onchange = () => this.setVariant(v.name, JSON.parse(sel.value));
      const broken = (v.broken || []).includes(current);
      return h("label", { class: `variant${broken ? " broken" : ""}`, title: `${v.description} Changing it starts a new run.` },
        humanize(v.name), sel);
    }));
  }

  /** A new session from this one's scenario (its recorded actions included), one switch changed. */
  async setVariant(name, value) {
    let sc = await decodeShare(this.app.links.share);
    if (!sc) {
      const meta = this.app.scenario;
      sc = Object.fromEntries(SCENARIO_KEYS.filter((k) => meta[k] != null).map((k) => [k, meta[k]]));
    }
    sc.variant = { ...(sc.variant || {}), [name]: value };
    delete sc.expected;
    delete sc.name;
    this.app.toast(`starting a new run with ${name} = ${value}`);
    this.app.create(sc);
  }

  /** Forms for the model's client requests, from the schemas the model publishes. */
  fillClient() {
    const cmds = this.meta.commands || {};
    const entries = Object.entries(cmds);
    $("client-card").hidden = !entries.length;
    fill($("client"), ...entries.map(([type, schema]) => this.commandForm(type, schema, null)));
  }

  commandForm(type, schema, node, label = humanize(type)) {
    const props = { ...(schema.properties || {}) };
    const required = schema.required || [];
    if (required.includes("node") && !props.node) props.node = { type: "string" };
    const inputs = {};
    const fields = Object.entries(props).filter(([k]) => !(node && k === "node")).map(([k, p]) => {
      let input;
      if (k === "node") {
        const ids = this.app.store.order.filter((id) => !p.pattern || new RegExp(p.pattern).test(id));
        input = h("select", {}, required.includes(k) ? null : h("option", { value: "" }, "any"),
          ids.map((id) => h("option", { value: id }, id)));
      } else if (p.enum) {
        input = h("select", {}, required.includes(k) ? null : h("option", { value: "" }, "–"),
          p.enum.map((v) => h("option", { value: JSON.stringify(v) }, String(v))));
        input._json = true;
      } else if (p.type === "boolean") {
        input = h("input", { type: "checkbox" });
      } else if (p.type === "integer" || p.type === "number") {
        input = h("input", { type: "number", step: p.type === "integer" ? "1" : "any", min: p.minimum, max: p.maximum,
          value: p.default ?? (required.includes(k) ? p.minimum ?? 1 : "") });
      } else if (p.type === "object" || p.type === "array") {
        input = h("input", { type: "text", placeholder: p.type === "object" ? '{"p1": 3}' : "[…]", class: "json" });
        input._json = true;
      } else {
        input = h("input", { type: "text", value: p.default ?? (node && required.includes(k) ? "k" : ""), maxlength: p.maxLength, size: 8 });
      }
      inputs[k] = [input, p];
      return h("label", { title: p.description || `${humanize(k)}${required.includes(k) ? " (required)" : " (optional)"}` }, humanize(k), input);
    });
    const send = () => {
      const action = { type };
      if (node) action.node = node;
      try {
        for (const [k, [input, p]] of Object.entries(inputs)) {
          if (input.type === "checkbox") action[k] = input.checked;
          else if (input.value === "") continue;
          else if (input._json) action[k] = JSON.parse(input.value);
          else if (p.type === "integer") action[k] = parseInt(input.value, 10);
          else if (p.type === "number") action[k] = Number(input.value);
          else action[k] = input.value;
        }
      } catch {
        return this.app.toast("a field holds JSON that does not parse", true);
      }
      this.app.act(action, `${label} sent${node ? ` to ${node}` : ""}`);
      if (node) this.closeMenu();
    };
    return h("form", { class: "cmd", onsubmit: (ev) => { ev.preventDefault(); send(); } },
      h("button", { type: "submit", title: schema.description || `Send a ${type} request` }, label), ...fields);
  }

  /** A model's own action in a node's menu (RaftScope's "time out", "request"): one
   * button, or a small form when the command needs more than the node. */
  nodeAction(action, schema, id) {
    const needs = (schema.required || []).filter((k) => k !== "node" && k !== "type");
    if (needs.length) return this.commandForm(action.command, schema, id, action.label);
    return h("button", { disabled: !this.app.canControl, title: `${action.label} (${action.command})`,
      onclick: () => { this.app.act({ type: action.command, node: id }, `${action.label}: ${id}`); this.closeMenu(); } },
    action.label);
  }

  // -- the node and link menus -------------------------------------------------------
  /** Open the menu of a node or link beside it. From the keyboard, focus goes to its
   * first item; it stays open until an item is chosen or Esc, and focus then returns. */
  openMenu(ev, title, ...content) {
    const menu = $("menu");
    const stage = $("stage").getBoundingClientRect();
    this.menuOrigin = ev.currentTarget instanceof Element ? ev.currentTarget : null;
    fill(menu, h("h3", { id: "menu-title" }, title), ...content);
    for (const b of menu.querySelectorAll("button")) b.setAttribute("role", "menuitem");
    menu.hidden = false;
    const keyboard = ev instanceof KeyboardEvent || ev.detail === 0;
    let px = ev.clientX, py = ev.clientY;
    if (keyboard && this.menuOrigin) {
      const r = this.menuOrigin.getBoundingClientRect();
      px = r.left + r.width / 2;
      py = r.top + r.height / 2;
    }
    const x = Math.min(px - stage.left + 12, stage.width - menu.offsetWidth - 8);
    const y = Math.min(py - stage.top + 12, stage.height - menu.offsetHeight - 8);
    menu.style.left = `${Math.max(4, x)}px`;
    menu.style.top = `${Math.max(4, y)}px`;
    const first = this.menuItems()[0];
    if (first && keyboard) first.focus();
  }

  menuItems() {
    return [...$("menu").querySelectorAll("button:not([disabled]), input, select")];
  }

  /** Keys inside a menu: arrows move between its items, Esc closes it; none of them
   * reaches the page's shortcuts. */
  menuKey(ev) {
    ev.stopPropagation();
    if (ev.key === "Escape") {
      ev.preventDefault();
      this.closeMenu();
    } else if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      ev.preventDefault();
      const items = this.menuItems();
      const i = items.indexOf(document.activeElement);
      const next = ev.key === "ArrowDown" ? i + 1 : i - 1;
      items[(next + items.length) % items.length]?.focus();
    }
  }

  closeMenu() {
    const menu = $("menu");
    if (menu.hidden) return;
    const focused = menu.contains(document.activeElement);
    menu.hidden = true;
    if (focused && this.menuOrigin?.isConnected) this.menuOrigin.focus();
  }

  nodeClicked(id, ev) {
    ev.stopPropagation();
    const app = this.app;
    if (ev.shiftKey || ev.ctrlKey || ev.metaKey) {
      app.cluster.toggleSelect(id);
      this.partitionLabel();
      app.toast(app.cluster.selected.has(id) ? `${id} selected for a partition (P or Partition selected splits them off)` : `${id} unselected`);
      return;
    }
    const n = app.store.node(id);
    if (!n) return;
    const act = (action, msg) => { app.act(action, msg); this.closeMenu(); };
    const down = n.status === "crashed", paused = n.status === "paused";
    const num = (label, value, step, title) => h("label", { title }, label, h("input", { type: "number", value, step, "aria-label": label }));
    const skew = num("Offset ms", 300, "any", "Set this node's clock to true time plus this offset");
    const drift = num("Rate", 0.9, "0.01", "Clock speed: 1 is true speed, 0.9 runs 10% slow");
    const jump = num("By ms", 500, "any", "Jump this node's clock forward (negative: back)");
    const val = (label) => Number(label.querySelector("input").value);
    const commands = this.meta.commands || {};
    const declared = this.meta.node_actions || [];
    const role = app.scenario?.node_roles?.[id];
    const own = declared.filter((a) => commands[a.command] && (!a.roles.length || a.roles.includes(role)));
    const nodeCmds = Object.entries(commands).filter(([type, sch]) => {
      const p = sch.properties?.node || (sch.required?.includes("node") ? {} : null);
      return p && !declared.some((a) => a.command === type) && (!p.pattern || new RegExp(p.pattern).test(id));
    });
    this.openMenu(ev, `${id} · ${n.status}${n.role ? ` · ${n.role}` : ""}`,
      h("div", { class: "row" },
        h("button", { disabled: down || !app.canControl, title: "Stop the node: volatile state, timers and queued input are lost", onclick: () => act({ type: "crash", node: id }, `${id} crashed`) }, "Crash"),
        h("button", { disabled: !down || !app.canControl, title: "Start the node again from its durable state", onclick: () => act({ type: "restart", node: id }, `${id} restarted`) }, "Restart"),
        h("button", { disabled: down || paused || !app.canControl, title: "Freeze the node (a GC stall): messages and timers wait", onclick: () => act({ type: "pause", node: id }, `${id} paused`) }, "Pause node"),
        h("button", { disabled: !paused || !app.canControl, title: "Unfreeze the node; what waited runs now", onclick: () => act({ type: "resume", node: id }, `${id} resumed`) }, "Resume node")),
      h("div", { class: "row" }, skew, h("button", { disabled: !app.canControl, onclick: () => act({ type: "skew", node: id, offset_ms: val(skew) }) }, "Skew clock")),
      h("div", { class: "row" }, drift, h("button", { disabled: !app.canControl, onclick: () => act({ type: "drift", node: id, rate: val(drift) }) }, "Set drift")),
      h("div", { class: "row" }, jump, h("button", { disabled: !app.canControl, onclick: () => act({ type: "jump", node: id, by_ms: val(jump) }) }, "Jump clock")),
      own.length ? h("div", { class: "row own" }, own.map((a) => this.nodeAction(a, commands[a.command], id))) : null,
      ...nodeCmds.map(([type, schema]) => this.commandForm(type, schema, id)),
      h("p", { class: "small" }, "Shift-click or Shift+Enter selects nodes for a partition; Esc closes."));
  }

  linkClicked(a, b, ev) {
    ev.stopPropagation();
    const app = this.app;
    const act = (action, msg) => { app.act(action, msg); this.closeMenu(); };
    const cut = app.store.cutPairs();
    const now = (app.store.links.custom || []).find((c) => c.from === a && c.to === b);
    const lat = now?.latency_ms || this.app.scenario?.network?.latency_ms || [10, 15];
    const lo = h("input", { type: "number", value: lat[0], min: 0, step: "any", "aria-label": "Latency from ms" });
    const hi = h("input", { type: "number", value: lat[1], min: 0, step: "any", "aria-label": "Latency to ms" });
    const loss = h("input", { type: "number", value: now?.loss ?? 0, min: 0, max: 1, step: "0.05", "aria-label": "Loss" });
    const dis = !app.canControl;
    this.openMenu(ev, `link ${a} ↔ ${b}${cut.has(`${a}>${b}`) || cut.has(`${b}>${a}`) ? " (cut)" : ""}`,
      h("div", { class: "row" },
        h("button", { disabled: dis, title: "Drop every message between the two nodes, both ways", onclick: () => act({ type: "cut", from: a, to: b }, `cut ${a} ↔ ${b}`) }, "Cut link"),
        h("button", { disabled: dis, title: `Drop messages from ${a} to ${b} only`, onclick: () => act({ type: "cut", from: a, to: b, oneway: true }, `cut ${a} → ${b}`) }, `Cut ${a} → ${b}`),
        h("button", { disabled: dis, title: `Drop messages from ${b} to ${a} only`, onclick: () => act({ type: "cut", from: b, to: a, oneway: true }, `cut ${b} → ${a}`) }, `Cut ${b} → ${a}`),
        h("button", { disabled: dis, title: "Repair this link both ways", onclick: () => act({ type: "heal", from: a, to: b }, `healed ${a} ↔ ${b}`) }, "Heal link")),
      h("div", { class: "row" }, h("label", { title: "Latency range of each message on this link" }, "Latency ms", lo, "–", hi),
        h("label", { title: "Probability that a message is lost" }, "Loss", loss),
        h("button", { disabled: dis, onclick: () => act({ type: "link", from: a, to: b, latency_ms: [Number(lo.value), Number(hi.value)], loss: Number(loss.value) }, `link ${a} ↔ ${b} set`) }, "Set latency and loss")));
  }

  dropMessage(m) {
    this.app.act({ type: "drop", message: m.id }, `dropped ${m.kind} ${m.from} → ${m.to}`);
  }

  partition() {
    const sel = [...this.app.cluster.selected];
    if (!sel.length) return this.app.toast("shift-click (or Shift+Enter) the nodes of one side first, then Partition selected", true);
    this.app.act({ type: "partition", groups: [sel] }, `partitioned {${sel.join(", ")}} from the rest`);
    this.app.cluster.selected.clear();
    this.partitionLabel();
  }

  partitionLabel() {
    const n = this.app.cluster.selected.size;
    $("partition").textContent = n ? `Partition selected (${n})` : "Partition selected";
  }

  async copy(url, what) {
    if (!url) return this.app.toast(`no ${what} yet`, true);
    try {
      await navigator.clipboard.writeText(url);
      this.app.toast(`${what} copied: ${url}`);
    } catch {
      this.app.toast(`${what}: ${url}`);
    }
  }

  exportSVG() {
    const blob = new Blob([this.app.spacetime.exportSVG()], { type: "image/svg+xml" });
    const a = h("a", { href: URL.createObjectURL(blob), download: `spacetime-${this.app.scenario?.name || "run"}.svg` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }
}

const SCENARIO_KEYS = ["model", "seed", "nodes", "variant", "params", "network", "duration_ms",
  "narrative", "title", "description", "claims"];

/** The scenario inside a share link (base64url of a 6-byte digest and zlib-deflated JSON). */
export async function decodeShare(url) {
  const m = /\/s\/1\.([A-Za-z0-9_-]+)/.exec(url || "");
  if (!m) return null;
  try {
    let b = m[1].replace(/-/g, "+").replace(/_/g, "/");
    while (b.length % 4) b += "=";
    const bytes = Uint8Array.from(atob(b), (c) => c.charCodeAt(0)).slice(6);
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    return JSON.parse(await new Response(stream).text());
  } catch {
    return null;
  }
}

function claimText(p) {
  return p.claims?.length ? `Claims: ${p.claims.join(", ")}` : "";
}
