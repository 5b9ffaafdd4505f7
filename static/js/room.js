// The room and the links: a presenter's page points its room at each session it runs;
// a room page (/r/<room>) follows it. Short links, the long self-contained link and a
// QR code of either, drawn by the server, in one dialog (the Share link and Room link
// buttons, or the Q key).
import { h, fill } from "./dom.js";

const $ = (id) => document.getElementById(id);
const KEY = "playground.room"; // this tab's room: {room, token}, kept across reloads
const SHORTEN_AFTER = 800; // ms a share link must stay the same before it is shortened
const abs = (u) => (u ? new URL(u, location.href).href : null);

export class Room {
  constructor(app) {
    this.app = app;
    this.room = null;
    this.token = null; // set on the presenter's page only
    this.url = null;
    this.member = null;
    this.following = false;
    this.shortFor = null; // the long share link links.short was made from
    const socket = app.conn.socket;
    socket.on("room", (m) => this.moved(m));
    socket.on("connect", () => this.rejoin());
    $("share").onclick = () => this.show("share");
    $("room").onclick = () => this.show("room");
    $("links-close").onclick = () => this.hide();
    $("links-toggle").onclick = () => this.show(this.showing === "room" ? "share" : "room");
    $("links-copy").onclick = () => app.actions.copy(this.showingUrl, "link");
    $("links-long").onclick = () => app.actions.copy(app.links.share, "link that works without this server");
    document.addEventListener("keydown", (ev) => this.key(ev));
  }

  get presenting() {
    return this.token !== null;
  }

  /** Presenter: point this tab's room (opened on first use) at the session just made. */
  async present(session, sessionToken) {
    let saved = null;
    try { saved = JSON.parse(sessionStorage.getItem(KEY) || "null"); } catch { saved = null; }
    const conn = this.app.conn;
    for (let attempt = 0; attempt < 2; attempt++) {
      if (!saved) {
        const opened = await conn.request("room_open", {});
        if (!opened.ok) return this.app.toast(`No room: ${opened.error}`, true);
        saved = { room: opened.room, token: opened.token };
        sessionStorage.setItem(KEY, JSON.stringify(saved));
      }
      const res = await conn.request("room_set", { room: saved.room, token: saved.token, session, session_token: sessionToken });
      if (res.ok) {
        this.room = saved.room;
        this.token = saved.token;
        this.following = false;
        this.url = abs(res.room_url);
        this.app.dirty.add("links");
        return res;
      }
      saved = null; // a room of another server, or its store was reset: open a new one
      sessionStorage.removeItem(KEY);
    }
  }

  /** Audience: join the room and show the session it shows now. */
  async follow(room) {
    const conn = this.app.conn;
    const mkey = `playground.member.${room}`;
    const res = await conn.request("room_join", { room, member: sessionStorage.getItem(mkey) || undefined });
    if (!res.ok) return this.app.toast(`Could not join the room: ${res.error}`, true, true);
    this.room = room;
    this.following = true;
    this.member = res.member;
    sessionStorage.setItem(mkey, res.member);
    this.url = abs(res.room_url);
    document.body.dataset.room = "member";
    this.app.dirty.add("links");
    this.app.ask.opened(res.question);
    if (!res.session) return this.app.toast("the presenter has not started yet; this page follows when they do", false, true);
    if (res.session !== conn.session) {
      this.app.links = { share: null, watch: null };
      await this.app.open(res.session, null);
    }
    if (res.notice) this.app.toast(res.notice);
  }

  /** The presenter moved the room to another session: follow it at once. */
  moved(m) {
    if (!this.following || m?.room !== this.room) return;
    this.app.links = { share: null, watch: null };
    this.app.open(m.session, null, true);
    this.app.toast(m.notice || "the presenter started another run");
    this.app.ask.opened(null);
  }

  /** After a reconnect the server has forgotten this connection's room: join again. */
  rejoin() {
    if (!this.room) return;
    if (this.following) this.follow(this.room);
    else if (this.presenting && this.app.conn.session) this.present(this.app.conn.session, this.app.conn.token);
  }

  /** A member left the room's session for one of their own. */
  leave() {
    this.following = false;
  }

  /** Keep the buttons' links current: the short link of the run's share link, made
   * once the share link has stayed the same a moment (every action changes it). */
  render() {
    const links = this.app.links;
    if (links.share !== this.shortFor) {
      this.shortFor = links.share;
      links.short = null;
      clearTimeout(this.shortTimer);
      // The presenter's page keeps a short link ready; a member's asks only when shown
      // (a hall of members would otherwise all ask at once after every switch).
      if (links.share && !this.following) this.shortTimer = setTimeout(() => this.shorten(links.share), SHORTEN_AFTER);
    }
    $("share").dataset.url = links.short || links.share || "";
    $("room").dataset.url = this.url || "";
    $("room").hidden = !this.url;
  }

  async shorten(long) {
    const path = new URL(long).pathname;
    try {
      const r = await fetch("/api/links", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ share: path.slice("/s/".length) }) });
      const res = await r.json();
      if (res.ok && this.app.links.share === long) {
        this.app.links.short = abs(res.url);
        this.app.dirty.add("links");
        if (!$("links-dialog").hidden && this.showing === "share") this.show("share");
      }
    } catch { /* the long link still works */ }
  }

  get showingUrl() {
    return this.showing === "room" ? this.url : (this.app.links.short || this.app.links.share);
  }

  /** The links dialog with a large QR code of the room link or the share link. */
  async show(which) {
    if (which === "room" && !this.url) which = "share";
    if (which === "share" && !this.app.links.short && this.app.links.share) this.shorten(this.app.links.share);
    this.showing = which;
    const url = this.showingUrl;
    if (!url) return this.app.toast("no link yet", true);
    const dialog = $("links-dialog");
    dialog.hidden = false;
    dialog.dataset.showing = which;
    $("links-title").textContent = which === "room"
      ? "Room link: everyone who opens it follows this presenter" : "Share link: replays this run exactly";
    $("links-url").textContent = url;
    $("links-long").hidden = which !== "share";
    $("links-toggle").hidden = !this.url;
    $("links-toggle").textContent = which === "room" ? "Show the share link" : "Show the room link";
    const box = document.querySelector("[data-qr]");
    box.dataset.qr = url;
    try {
      const r = await fetch(`/qr.svg?text=${encodeURIComponent(url)}`);
      if (r.ok && box.dataset.qr === url) box.innerHTML = await r.text(); // the server's own SVG
    } catch {
      fill(box, h("p", {}, "the QR code could not be drawn; copy the link instead"));
    }
  }

  hide() {
    $("links-dialog").hidden = true;
  }

  key(ev) {
    const tag = ev.target.tagName;
    if (ev.ctrlKey || ev.metaKey || ev.altKey || tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") return;
    if (ev.key === "q" || ev.key === "Q") {
      ev.preventDefault();
      if ($("links-dialog").hidden) this.show(this.url ? "room" : "share");
      else this.hide();
    } else if (ev.key === "Escape" && !$("links-dialog").hidden) {
      ev.preventDefault();
      this.hide();
    }
  }
}
