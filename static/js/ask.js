// Live questions in a room: the presenter asks (a caption's question, or one on the
// spot), every member answers once from their device (a choice, or a tap on a node),
// the presenter watches the tally grow and reveals it. The server keeps the question,
// the answers and the counts; this module draws them and sends taps.
import { h, fill } from "./dom.js";

const $ = (id) => document.getElementById(id);

export class Ask {
  constructor(app) {
    this.app = app;
    this.question = null; // the open question as this page knows it
    this.answered = null; // this member's choice
    this.asked = new Set(); // captions this presenter's page has asked already
    const socket = app.conn.socket;
    socket.on("question", (q) => q?.room === app.room.room && this.opened(this.kept(q)));
    socket.on("tally", (t) => t?.room === app.room.room && this.tallied(t));
    $("ask-open").onclick = () => this.form();
    $("ask-send").onclick = () => this.askNow();
    $("ask-cancel").onclick = () => ($("ask-form").hidden = true);
  }

  /** Presenter: a caption that asks a question puts it to the room when it shows. */
  captionChanged(c) {
    const room = this.app.room;
    if (!c?.ask || !room.presenting || c.diverged) return;
    const key = `${this.app.conn.session}|${c.at_ms}`;
    if (this.asked.has(key)) return;
    this.asked.add(key);
    this.send({ caption: c.at_ms }); // the server holds the caption's answer
  }

  /** Presenter: the on-the-spot form; choices default to the nodes. */
  form() {
    if (!this.app.room.presenting) return this.app.toast("only the presenter of a room asks questions", true);
    $("ask-form").hidden = false;
    const sc = this.app.scenario || {};
    $("ask-choices").placeholder = (sc.node_ids || []).filter((n) => !(sc.helpers || []).includes(n)).join(", ");
    $("ask-question").focus();
  }

  askNow() {
    const text = $("ask-question").value.trim();
    if (!text) return this.app.toast("write the question first", true);
    const choices = $("ask-choices").value.split(",").map((s) => s.trim()).filter(Boolean);
    const answer = $("ask-answer").value.trim();
    const q = { question: text };
    if (choices.length) q.choices = choices;
    if (answer) q.answer = answer;
    $("ask-form").hidden = true;
    this.send(q);
  }

  async send(q) {
    const app = this.app;
    if (app.store.playing) app.control("pause");
    const res = await app.conn.request("ask", { room: app.room.room, token: app.room.token, ...q });
    if (!res.ok) return app.toast(`Could not ask: ${res.error}`, true);
    this.opened(res.question);
  }

  async reveal() {
    const app = this.app;
    const res = await app.conn.request("reveal", { room: app.room.room, token: app.room.token });
    if (!res.ok) return app.toast(res.error, true);
    this.opened({ ...res.question, tally: res.tally });
  }

  /** Audience: answer the open question; the server's answer ({ok, error}). */
  async answer(choice) {
    const app = this.app;
    const q = this.question;
    if (!q) return { ok: false, error: "no question is open" };
    const res = await app.conn.request("answer", { room: app.room.room, member: app.room.member, id: q.id, choice });
    if (res.ok) {
      this.answered = choice;
      this.draw();
    } else app.toast(res.error, true);
    return res;
  }

  /** A tap on a node answers a question whose choices are nodes. */
  nodeTapped(id) {
    const q = this.question;
    if (!q || q.revealed || this.app.room.presenting || this.answered || !q.choices.includes(id)) return false;
    this.answer(id);
    return true;
  }

  /** The room's copy of an open question has no answer; the presenter's own (from the
   * answer to ``ask``) has it: keep it. */
  kept(q) {
    const mine = this.question;
    return mine && mine.id === q.id && mine.answer && !q.answer ? { ...q, answer: mine.answer } : q;
  }

  /** A question was opened, revealed or closed (null). */
  opened(q) {
    if (!q || q.id !== this.question?.id) this.answered = null;
    this.question = q || null;
    if (q?.tally) this.counts = q.tally.counts;
    else if (!q || !this.counts || q.id !== this.countsFor) this.counts = (q?.choices || []).map(() => 0);
    this.countsFor = q?.id;
    this.draw();
  }

  tallied(t) {
    if (!this.question || t.id !== this.question.id) return;
    this.counts = t.counts;
    this.draw();
  }

  draw() {
    const box = $("ask");
    const q = this.question;
    box.hidden = !q;
    if (!q) return;
    const presenting = this.app.room.presenting;
    const total = (this.counts || []).reduce((a, b) => a + b, 0);
    const showTally = presenting || q.revealed;
    const choices = q.choices.map((c, i) => h("button", {
      class: `choice${this.answered === c ? " mine" : ""}${q.revealed && q.answer === c ? " correct" : ""}`,
      disabled: presenting || q.revealed || !!this.answered,
      onclick: () => this.answer(c),
    }, c));
    const tally = showTally ? h("div", { class: "tally", "data-tally": "", "aria-label": "Answers so far" },
      q.choices.map((c, i) => {
        const n = this.counts?.[i] || 0;
        return h("div", { class: `bar${q.revealed && q.answer === c ? " correct" : ""}`, "data-choice": c, "data-count": String(n) },
          h("span", { class: "label" }, c),
          h("span", { class: "fill", style: `--share:${total ? n / total : 0}` }),
          h("span", { class: "count" }, String(n)));
      })) : null;
    const status = presenting
      ? `${total} answer${total === 1 ? "" : "s"}${q.revealed ? "" : " so far"}`
      : q.revealed ? (q.answer ? `answer: ${q.answer}` : "the answers") : this.answered ? `you answered ${this.answered}; wait for the reveal` : "tap a choice (or a node)";
    fill(box, h("p", { class: "question" }, q.question),
      presenting ? null : h("div", { class: "choices", "data-ask": "" }, choices),
      tally,
      h("p", { class: "small status" }, status),
      presenting ? h("div", { class: "row" },
        q.revealed ? null : h("button", { onclick: () => this.reveal() }, "Reveal"),
        h("button", { onclick: () => this.opened(null) }, "Close")) : null);
  }
}
