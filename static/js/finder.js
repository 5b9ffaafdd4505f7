// "Find a counterexample": starts the server's search on this session's scenario, shows
// its progress (tries, elapsed, the smallest counterexample so far) and its answer, and
// opens what it found as a new session. The search runs in a worker process on the server.
import { h, fill, fmtMs } from "./dom.js";

const $ = (id) => document.getElementById(id);

export class Finder {
  constructor(app) {
    this.app = app;
    this.running = false;
    $("find").onclick = () => this.open();
    $("find-close").onclick = () => this.close();
    $("find-start").onclick = () => this.start();
    $("find-cancel").onclick = () => this.cancel();
    app.conn.socket.on("search", (st) => st?.session === app.conn.session && this.show(st));
  }

  /** A new session: forget the previous one's search. */
  scenarioChanged() {
    if (this.session === this.app.conn.session) return;
    this.session = this.app.conn.session;
    this.running = false;
    this.reset();
  }

  open() {
    const app = this.app;
    const info = app.models[app.scenario?.model];
    const pick = $("find-invariant");
    fill(pick, h("option", { value: "" }, "any invariant"),
      ...(info?.invariants || []).map((i) => h("option", { value: i.name, title: i.description || "" }, i.name)));
    $("find-dialog").hidden = false;
    this.buttons();
  }

  close() {
    $("find-dialog").hidden = true;
  }

  reset() {
    $("find-progress").hidden = true;
    fill($("find-result"));
    $("find-status").textContent = "";
    this.buttons();
  }

  buttons() {
    const control = this.app.canControl;
    $("find-start").hidden = this.running || !control;
    $("find-cancel").hidden = !this.running || !control;
  }

  async start() {
    const app = this.app;
    const invariant = $("find-invariant").value;
    const payload = app.conn.tokened(invariant ? { invariant } : {});
    this.reset();
    const res = await app.conn.request("find", payload);
    if (!res.ok) {
      $("find-status").textContent = res.error;
      return app.toast(res.error, true);
    }
    this.running = true;
    this.limit = res.limit;
    this.show({ progress: { tries: 0, elapsed: 0, phase: "starting", best: null }, fraction: 0, done: false, limit: res.limit });
  }

  async cancel() {
    const res = await this.app.conn.request("find_cancel", this.app.conn.tokened({}));
    if (!res.ok) this.app.toast(res.error, true);
  }

  /** One ``search`` event from the server. */
  show(st) {
    const bar = $("find-progress");
    const p = st.progress || {};
    this.running = !st.done;
    bar.hidden = false;
    bar.setAttribute("aria-valuenow", String(Math.round(100 * (st.fraction || 0))));
    bar.firstElementChild.style.width = `${100 * (st.fraction || 0)}%`;
    const limit = st.limit || this.limit || {};
    const best = p.best != null ? ` · smallest so far: ${p.best} fault${p.best === 1 ? "" : "s"}` : "";
    $("find-status").textContent = `${p.phase || ""}: ${p.tries ?? 0} of ${limit.tries ?? "?"} tries · ` +
      `${Number(p.elapsed || 0).toFixed(1)} of ${limit.seconds ?? "?"} s${best}`;
    if (st.done) this.answer(st);
    this.buttons();
    if (!st.done && !this.app.canControl) $("find-dialog").hidden = false; // the audience sees it too
  }

  answer(st) {
    const out = $("find-result");
    if (st.error) {
      fill(out, h("p", { class: "bad" }, st.error === "cancelled" ? "Cancelled: the search has stopped." : st.error));
      return;
    }
    if (!st.found) {
      fill(out, h("p", {}, `Nothing broke in ${st.progress?.tries ?? 0} random fault schedules: no counterexample within the limits.`));
      return;
    }
    const f = st.found;
    const open = h("button", { class: "primary" }, "Open");
    open.onclick = () => { this.close(); this.app.create(f.share_url); };
    fill(out,
      h("p", {}, h("b", {}, f.title)),
      h("p", { class: "small" }, `It breaks ${f.invariants.join(", ")} with these ${f.faults.length} command(s), shrunk:`),
      h("ol", { class: "faults" }, ...f.faults.map((c) => h("li", {}, `${fmtMs(c.at_ms)} ${c.type} ${words(c)}`))),
      h("div", { class: "row" }, open, h("a", { class: "button", href: f.share_url, title: "The counterexample's share link" }, "Share link")));
  }
}

function words(cmd) {
  return Object.entries(cmd).filter(([k]) => k !== "at_ms" && k !== "type")
    .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(" ");
}
