// The control bar, the timeline, captions and lecture mode with its keyboard.
import { h, fmtMs, fill } from "./dom.js";

const SPEEDS = [["1", 0.01], ["2", 0.02], ["3", 0.05], ["4", 0.1], ["5", 0.25], ["6", 0.5],
  ["7", 1], ["8", 2], ["9", 5], ["0", "max"]];
const $ = (id) => document.getElementById(id);

export class Controls {
  constructor(app) {
    this.app = app;
    this.captions = [];
    this.seeking = null;
    this.queuedSeek = null;
    $("play").onclick = () => app.control("play");
    $("pause").onclick = () => app.control("pause");
    $("step").onclick = () => app.control("step");
    $("fork").onclick = () => app.control("fork").then((r) => r?.ok && app.toast("forked: actions from now on start a new future"));
    const speed = $("speed");
    speed.append(...SPEEDS.map(([key, v]) => h("option", { value: String(v) }, v === "max" ? "max" : `${v}×`)));
    speed.onchange = () => this.setSpeed(speed.value);
    const scrub = $("scrub");
    scrub.addEventListener("input", () => this.seek(Number(scrub.value)));
    scrub.addEventListener("pointerdown", () => (this.dragging = true));
    scrub.addEventListener("pointerup", () => (this.dragging = false));
    $("help-open").onclick = () => this.help();
    $("help-close").onclick = () => this.help(false);
    $("lecture").onclick = () => this.setLecture(!document.body.classList.contains("lecture"));
    $("zoom-in").onclick = () => app.spacetime.zoom(0.5);
    $("zoom-out").onclick = () => app.spacetime.zoom(2);
    document.addEventListener("keydown", (ev) => this.key(ev));
  }

  setSpeed(v) {
    const value = v === "max" ? "max" : Number(v);
    $("speed").value = String(value);
    this.app.control("speed", value);
  }

  /** Seek, keeping at most one request in flight (the newest position wins). */
  async seek(t) {
    const max = this.app.store.frontier_ms;
    t = Math.max(0, Math.min(t, max));
    if (this.seeking) { this.queuedSeek = t; return; }
    this.seeking = this.app.seek(t);
    await this.seeking;
    this.seeking = null;
    if (this.queuedSeek != null) {
      const next = this.queuedSeek;
      this.queuedSeek = null;
      this.seek(next);
    }
  }

  scenarioChanged() {
    this.captions = [...(this.app.scenario?.narrative || [])].sort((a, b) => a.at_ms - b.at_ms);
    this.tickKey = "";
  }

  render(t, dirty) {
    const st = this.app.store;
    const dur = st.duration_ms || 1;
    const ended = st.duration_ms > 0 && st.t_ms >= st.duration_ms;
    $("play").disabled = st.playing || ended || !this.app.canControl;
    $("play").title = ended ? "The run has reached its end: drag the timeline back to replay" : "Run the simulation (space)";
    $("pause").disabled = !st.playing || !this.app.canControl;
    const scrub = $("scrub");
    if (scrub.max !== String(dur)) scrub.max = String(dur);
    scrub.disabled = !this.app.canControl;
    if (!this.dragging && !this.seeking) scrub.value = String(t);
    scrub.style.setProperty("--frontier", `${(100 * st.frontier_ms) / dur}%`);
    $("clock").textContent = `${fmtMs(t)} / ${fmtMs(st.frontier_ms)} / ${fmtMs(st.duration_ms)}`;
    const sp = $("speed");
    if (document.activeElement !== sp && st.speed != null && sp.value !== String(st.speed)) {
      if (![...sp.options].some((o) => o.value === String(st.speed))) sp.append(h("option", { value: String(st.speed) }, `${st.speed}×`));
      sp.value = String(st.speed);
    }
    if (dirty.has("violations") || dirty.has("full") || this.tickKey === "") this.ticks(dur);
    this.load(st);
  }

  /** What the server says about this session's work: long work under way, a session
   * slowed because it cannot keep up with its speed, or a limit it stopped at. */
  load(st) {
    const el = $("load");
    let text = "";
    let title = "";
    if (st.notice) {
      text = st.notice;
    } else if (st.busy) {
      text = `${st.busy.op === "seek" ? "seeking" : "stepping"}… ${Math.round(100 * st.busy.done)}%`;
      title = "Long work runs in short slices; any new request stops it";
    } else if (st.slowed) {
      text = `slowed: ${st.slowed.speed}× instead of ${st.speed}×`;
      title = "This run needs more computation than the server gives one session: it runs slower than asked, other sessions are not affected";
    }
    el.hidden = !text;
    if (el.textContent !== text) el.textContent = text;
    el.title = title;
  }

  /** Marks under the timeline: captions (blue) and violations (red), click to seek. */
  ticks(dur) {
    this.tickKey = "x";
    const marks = [
      ...this.captions.map((c) => ["caption", c.at_ms, `caption: ${c.text}`]),
      ...(this.app.store.violations || []).map((v) => ["violation", v.at_ms, `${v.invariant}: ${v.detail}`]),
    ];
    fill($("ticks"), ...marks.map(([cls, at, title]) => h("button", {
      class: `tick ${cls}`, style: `left:${(100 * at) / dur}%`, title, "aria-label": `Seek to ${cls} at ${fmtMs(at)}`,
      tabindex: "-1", onclick: () => this.seek(at) })));
  }

  captionChanged(c) {
    const el = $("caption");
    el.hidden = !c;
    if (!c) return;
    el.textContent = c.text;
    el.classList.remove("fresh");
    void el.offsetWidth;
    el.classList.add("fresh");
    // Pause where the narrative says so (the server may already have paused).
    if (c.pause && this.app.store.playing && this.app.canControl && c.at_ms !== this.pausedFor) {
      this.pausedFor = c.at_ms;
      this.app.control("pause");
    }
  }

  /** Move to the next or previous caption: seek if recorded, otherwise run up to it. */
  caption(dir) {
    const t = this.app.store.t_ms;
    const list = this.captions;
    const c = dir > 0 ? list.find((x) => x.at_ms > t + 0.001) : [...list].reverse().find((x) => x.at_ms < t - 0.001);
    if (!c) return this.app.toast(dir > 0 ? "no later caption" : "no earlier caption");
    if (c.at_ms <= this.app.store.frontier_ms) this.seek(c.at_ms);
    else this.app.control("step", Math.min(60000, Math.max(0.001, c.at_ms - t)));
  }

  stepBack() {
    const st = this.app.store;
    const prev = [...st.events].reverse().find((e) => e.t_us < st.t_ms * 1000);
    this.seek(prev ? prev.t_us / 1000 : 0);
  }

  setLecture(on) {
    document.body.classList.toggle("lecture", on);
    $("lecture").setAttribute("aria-pressed", String(on));
    this.app.spacetime.key = "";
  }

  help(show) {
    const el = $("help");
    el.hidden = show === undefined ? !el.hidden : !show;
    if (!el.hidden) $("help-close").focus();
  }

  key(ev) {
    const tag = ev.target.tagName;
    if (ev.ctrlKey || ev.metaKey || ev.altKey || tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") return;
    const st = this.app.store;
    const k = ev.key;
    const run = {
      " ": () => this.app.control(st.playing ? "pause" : "play"),
      ArrowRight: () => this.app.control("step"),
      ArrowLeft: () => this.stepBack(),
      ArrowDown: () => this.caption(1),
      PageDown: () => this.caption(1),
      ArrowUp: () => this.caption(-1),
      PageUp: () => this.caption(-1),
      "?": () => this.help(),
      Escape: () => { this.help(false); this.app.actions.closeMenu(); },
      l: () => this.setLecture(!document.body.classList.contains("lecture")),
      L: () => this.setLecture(!document.body.classList.contains("lecture")),
      "+": () => this.app.spacetime.zoom(0.5),
      "-": () => this.app.spacetime.zoom(2),
    }[k];
    const speed = SPEEDS.find(([key]) => key === k);
    if (run) {
      ev.preventDefault();
      run();
    } else if (speed) {
      ev.preventDefault();
      this.setSpeed(String(speed[1]));
    }
  }
}
