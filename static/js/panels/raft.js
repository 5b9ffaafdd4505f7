// Raft: every server's log as cells coloured by term (solid up to the commit index), its
// term and vote, its snapshot (the last index and term it includes), the leader's
// next/match indexes per follower, leaders by term, the fenced storage resource, and how reads are answered (leases held, the latest read).
import { h, hue, fmtValue, fill } from "../dom.js";
import { table, section, pairs } from "./generic.js";

const SHOWN = 10; // log entries drawn per server (the tail)
const isServer = (n) => n.summary && "commit_index" in n.summary;
const termOf = (sm) => sm.current_term ?? sm.term;
const snapshotOf = (sm) => (sm.snapshot_index ? `≤${sm.snapshot_index} t${sm.snapshot_term}` : "–");

/** A server's log tail as [index, term, key, value] whatever form the summary uses. */
function entries(sm) {
  if (Array.isArray(sm.log)) {
    const start = sm.log_start ?? 1;
    return sm.log.map((e, i) => (Array.isArray(e) ? [start + i, ...e] : [start + i, e.term, e.key, e.value]));
  }
  return sm.log_tail || [];
}

export function render(el, store) {
  const servers = store.order.map((id) => store.node(id)).filter(isServer);
  const leader = servers.find((n) => n.status === "alive" && n.role === "leader");
  const rows = servers.map((n) => {
    const sm = n.summary;
    const tail = entries(sm).slice(-SHOWN);
    const hidden = tail.length ? tail[0][0] - 1 : sm.last_log_index ?? sm.log_length ?? 0;
    const outside = sm.member === false;
    return h("tr", { class: outside ? `${n.status} outside` : n.status, title: outside ? `${n.id} is outside its configuration (${(sm.config || []).join(" ") || "none known"}): it votes if asked, never campaigns` : null },
      h("th", { scope: "row" }, n.id, h("div", { class: "small" }, n.status === "alive" ? n.role : n.status)),
      h("td", { class: "num" }, String(termOf(sm))),
      h("td", {}, sm.voted_for ?? "–"),
      h("td", { class: "num", title: `last applied ${sm.last_applied}` }, String(sm.commit_index)),
      h("td", { class: "num", title: sm.snapshot_index ? `snapshot of the state machine up to index ${sm.snapshot_index} (term ${sm.snapshot_term}); the log before it is discarded` : "no snapshot yet" }, snapshotOf(sm)),
      h("td", {}, h("div", { class: "cells log" },
        hidden > 0 ? h("span", { class: "more", title: `${hidden} earlier entries${sm.snapshot_index ? `, ${sm.snapshot_index} of them compacted into the snapshot` : ""}` }, `…${hidden}`) : null,
        tail.map(([index, term, key, value]) => h("span", {
          class: index <= sm.commit_index ? "committed" : null, style: `--h:${hue(`term${term}`)}`,
          title: `index ${index}, term ${term}: ${key} = ${value}${index <= sm.commit_index ? " (committed)" : " (not committed)"}` }, String(term))))));
  });
  const parts = [section("Logs (number = term of the entry; solid = committed)",
    h("div", { class: "scroll" }, h("table", { class: "grid raft" },
      h("thead", {}, h("tr", {}, ["server", "term", "voted for", "commit", "snapshot", "log"].map((c) => h("th", {}, c)))),
      h("tbody", {}, rows))))];
  const lead = leader?.summary || {};
  if (lead.next_index || lead.match_index) {
    const peers = [...new Set([...Object.keys(lead.next_index || {}), ...Object.keys(lead.match_index || {})])];
    parts.push(section(`Leader ${leader.id}: next and match index per follower`,
      table(peers.map((p) => ({ follower: p, next_index: lead.next_index?.[p], match_index: lead.match_index?.[p] })))));
  }
  const p = store.panel || {};
  if (Array.isArray(p.leaders_by_term)) {
    parts.push(section("Leaders by term", h("div", { class: "cells" }, p.leaders_by_term.map((x) => {
      const [t, who] = Array.isArray(x) ? x : [x.term, x.leader];
      return h("span", { style: `--h:${hue(`term${t}`)}`, title: `term ${t}: ${fmtValue(who)}` }, `t${t} ${fmtValue(who)}`);
    }))));
  }
  if (p.storage) {
    const st = p.storage;
    const writes = (st.writes || []).map((w) => (Array.isArray(w) ? { at_ms: w[0], writer: w[1], token: w[2], accepted: w[3] } : w));
    parts.push(section(`Storage (fencing ${st.fencing ? "on" : "off"}, highest token ${st.highest_token})`,
      writes.length ? table(writes.slice(-8), null, { rowClass: (r) => (r.accepted ? null : "refused") })
        : h("p", { class: "small" }, "no write yet")));
  }
  if (p.reads) parts.push(section("Reads", pairs(p.reads)));
  const rest = Object.fromEntries(Object.entries(p).filter(([k]) => !["leaders_by_term", "storage", "reads"].includes(k)));
  if (Object.keys(rest).length) parts.push(pairs(rest));
  fill(el, ...parts);
}

export function nodeLabel(sm) {
  if ("commit_index" in sm) {
    return `term ${termOf(sm)} · log ${sm.last_log_index ?? sm.log_length} · commit ${sm.commit_index}`;
  }
  if ("highest_token" in sm) return `token ${sm.highest_token} · ok ${sm.accepted} · refused ${sm.rejected}`;
  if ("answered" in sm) return `answered ${sm.answered} · pending ${sm.pending}`;
  return "";
}
