// The control bar, the timeline, captions and lecture mode with its keyboard.
//
// Lecture mode gives the stage the screen: secondary buttons join the More menu (which
// holds the watch link and the exports in every layout), the side panel becomes a
// drawer, the session plays at the scenario's lecture speed and holds each caption on
// screen (the server paces it). PageDown plays to the next caption and stops there;
// captions the run has left behind (the presenter acted against the script) are muted,
// and Back to the script returns to where it was left.
import { h, fmtMs, fill } from "./dom.js";

const SPEEDS = [["1", 0.01], ["2", 0.02], ["3", 0.05], ["4", 0.1], ["5", 0.25], ["6", 0.5],
  ["7", 1], ["8", 2], ["9", 5], ["0", "max"]];
const $ = (id) => document.getElementById(id);
// Buttons that leave the bars for the More menu in lecture mode, ahead of the items that
// live there in every layout (the watch link, the exports).
const SECONDARY = ["compare", "find", "share", "room", "fork", "heal-all"];

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
    $("back").onclick = () => this.backToScript();
    $("more").onclick = () => this.more();
    $("drawer").onclick = () => this.drawer();
    $("hide-diverged").onchange = () => this.captionChanged(this.app.store.caption);
    $("more-menu").addEventListener("click", (ev) => { if (ev.target.closest("button, a")) this.more(false); });
    this.homes = new Map(); // secondary button -> the placeholder where it lives outside lecture mode
    document.addEventListener("click", (ev) => {
      if (!$("more-menu").hidden && !ev.target.closest("#more-menu, #more")) this.more(false);
    });
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
    if (this.lectureFor !== this.app.conn.session) this.applyLecture();
  }

  get lecture() {
    return document.body.classList.contains("lecture");
  }

  /** Tell the session about lecture mode and start it at the scenario's lecture speed
   * (once per session: the presenter's own choice of speed stays). */
  applyLecture() {
    const app = this.app;
    if (!app.canControl || !app.conn.session || !app.scenario) return;
    this.lectureFor = app.conn.session;
    app.control("lecture", this.lecture);
    const speed = app.scenario.lecture_speed;
    if (this.lecture && speed) this.setSpeed(String(speed));
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
    if (dirty.has("violations") || dirty.has("full") || dirty.has("script") || this.tickKey === "") this.ticks(dur);
    this.load(st);
    const script = st.script;
    const left = script && script.diverged_ms != null;
    $("back").hidden = !left;
    $("back").disabled = !left || !script.can_return || !this.app.canControl;
    if (left) $("back").title = script.can_return ? `Return to ${fmtMs(script.diverged_ms)}, where the run left its script (B)`
      : "The original script of this recording is not known (it is not a preset's)";
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

  /** The moment after which captions belong to the original run (null: on script). */
  get divergedAt() {
    const d = this.app.store.script?.diverged_ms;
    return d == null ? null : d;
  }

  /** Marks under the timeline: captions (blue) and violations (red), click to seek. */
  ticks(dur) {
    this.tickKey = "x";
    const marks = [
      ...this.captions.map((c) => ["caption", c.at_ms, `caption: ${c.text}`]),
      ...(this.app.store.violations || []).map((v) => ["violation", v.at_ms, `${v.invariant}: ${v.detail}`]),
    ];
    const left = this.divergedAt;
    fill($("ticks"), ...marks.map(([cls, at, title]) => h("button", {
      class: `tick ${cls}`, style: `left:${(100 * at) / dur}%`, title, "aria-label": `Seek to ${cls} at ${fmtMs(at)}`,
      "data-diverged": cls === "caption" && left != null && at > left ? "true" : null,
      tabindex: "-1", onclick: () => this.seek(at) })));
  }

  /** Show the caption; one written for the original run is muted and says so (or, as a
   * setting, hidden). */
  captionChanged(c) {
    const el = $("caption");
    el.hidden = !c || (c.diverged && $("hide-diverged").checked);
    if (!c) return;
    if (c.diverged) el.dataset.diverged = "true";
    else delete el.dataset.diverged;
    const key = `${c.at_ms}|${c.text}|${!!c.diverged}`;
    if (key === this.captionKey) return;
    this.captionKey = key;
    fill(el, c.diverged ? h("span", { class: "scripted" }, "Scripted for the original run: ") : null, c.text);
    el.scrollTop = 0;
    el.classList.remove("fresh");
    void el.offsetWidth;
    el.classList.add("fresh");
    // Pause where the narrative says so (the server may already have paused).
    if (c.pause && this.app.store.playing && this.app.canControl && c.at_ms !== this.pausedFor) {
      this.pausedFor = c.at_ms;
      this.app.control("pause");
    }
  }

  /** PageDown plays to the next caption and stops there (a second press while it plays
   * skips to it at once); PageUp goes back to the previous caption (or the beginning). */
  caption(dir) {
    const st = this.app.store;
    const t = st.t_ms;
    const list = this.captions;
    if (dir > 0) {
      const c = list.find((x) => x.at_ms > t + 0.001);
      if (!c) return this.app.toast("no later caption");
      if (st.playing && this.playingTo === c.at_ms) return this.skipTo(c.at_ms);
      this.playingTo = c.at_ms;
      return this.app.control("play", c.at_ms);
    }
    const c = [...list].reverse().find((x) => x.at_ms < t - 0.001);
    if (!c && t <= 0) return this.app.toast("no earlier caption");
    this.playingTo = null;
    if (st.playing) this.app.control("pause");
    this.seek(c ? c.at_ms : 0); // before the first caption: the beginning
  }

  skipTo(at) {
    const st = this.app.store;
    this.playingTo = null;
    this.app.control("pause");
    if (at <= st.frontier_ms) this.seek(at);
    else this.app.control("step", Math.min(60000, Math.max(0.001, at - st.t_ms)));
  }

  backToScript() {
    this.playingTo = null;
    this.app.control("script").then((r) => r?.ok && this.app.toast("back to the script"));
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
    this.app.dirty.add("full");
    this.moveSecondary(on);
    if (!on) { this.more(false); this.drawer(false); }
    this.applyLecture();
  }

  /** In lecture mode the secondary buttons live in the More menu; back in their bars
   * otherwise (the same elements: their handlers and ids go with them). */
  moveSecondary(on) {
    for (const id of SECONDARY) {
      const el = $(id);
      if (on && !this.homes.has(id)) {
        const home = document.createComment(id);
        el.replaceWith(home);
        this.homes.set(id, home);
        $("watch").before(el);
      } else if (!on && this.homes.has(id)) {
        this.homes.get(id).replaceWith(el);
        this.homes.delete(id);
      }
    }
  }

  more(show) {
    const menu = $("more-menu");
    menu.hidden = show === undefined ? !menu.hidden : !show;
    $("more").setAttribute("aria-expanded", String(!menu.hidden));
    if (!menu.hidden) menu.querySelector("button, a, input")?.focus();
  }

  /** The side panel as a drawer (lecture mode). */
  drawer(show) {
    const open = show === undefined ? !document.body.classList.contains("drawer-open") : show;
    document.body.classList.toggle("drawer-open", open);
    $("side").style.top = document.body.classList.contains("lecture") ? `${$("controls").getBoundingClientRect().bottom}px` : "";
    $("drawer").setAttribute("aria-expanded", String(open));
  }

  help(show) {
    const el = $("help");
    el.hidden = show === undefined ? !el.hidden : !show;
    if (!el.hidden) $("help-close").focus();
  }

  key(ev) {
    const tag = ev.target.tagName;
    if (ev.ctrlKey || ev.metaKey || ev.altKey || tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") return;
    if (ev.defaultPrevented) return;
    if (ev.key === "Escape" && !$("more-menu").hidden) { this.more(false); $("more").focus(); return; }
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
      Escape: () => { this.help(false); this.app.actions.closeMenu(); this.drawer(false); },
      l: () => this.setLecture(!this.lecture),
      L: () => this.setLecture(!this.lecture),
      p: () => this.app.actions.partition(),
      P: () => this.app.actions.partition(),
      b: () => this.backToScript(),
      B: () => this.backToScript(),
      d: () => this.drawer(),
      D: () => this.drawer(),
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
