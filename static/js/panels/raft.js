// Raft: every server's log tail as cells coloured by term (solid up to the commit index),
// its term and vote, the leader's next/match indexes, leaders by term and the fenced
// storage resource.
import { h, hue, fmtValue, fill } from "../dom.js";
import { table, section, pairs } from "./generic.js";

const isServer = (n) => n.summary && n.summary.term !== undefined && "commit_index" in n.summary;

export function render(el, store) {
  const servers = store.order.map((id) => store.node(id)).filter(isServer);
  const leader = servers.find((n) => n.status === "alive" && n.role === "leader");
  const rows = servers.map((n) => {
    const sm = n.summary;
    const tail = sm.log_tail || [];
    const hidden = tail.length ? tail[0][0] - 1 : sm.log_length;
    return h("tr", { class: n.status },
      h("th", { scope: "row" }, n.id, h("div", { class: "small" }, n.status === "alive" ? n.role : n.status)),
      h("td", { class: "num" }, String(sm.term)),
      h("td", {}, sm.voted_for ?? "–"),
      h("td", { class: "num", title: `last applied ${sm.last_applied}` }, String(sm.commit_index)),
      h("td", {}, h("div", { class: "cells log" },
        hidden > 0 ? h("span", { class: "more", title: `${hidden} earlier entries` }, `…${hidden}`) : null,
        tail.map(([index, term, key, value]) => h("span", {
          class: index <= sm.commit_index ? "committed" : null, style: `--h:${hue(`term${term}`)}`,
          title: `index ${index}, term ${term}: ${key} = ${value}${index <= sm.commit_index ? " (committed)" : " (not committed)"}` }, String(term))))));
  });
  const parts = [section("Logs (number = term of the entry; solid = committed)",
    h("table", { class: "grid raft" }, h("thead", {}, h("tr", {}, ["server", "term", "voted for", "commit", "log tail"].map((c) => h("th", {}, c)))),
      h("tbody", {}, rows)))];
  const lead = leader?.summary || {};
  if (lead.next_index || lead.match_index) {
    const peers = [...new Set([...Object.keys(lead.next_index || {}), ...Object.keys(lead.match_index || {})])];
    parts.push(section(`Leader ${leader.id}: next and match index per follower`,
      table(peers.map((p) => ({ follower: p, next_index: lead.next_index?.[p], match_index: lead.match_index?.[p] })))));
  }
  const p = store.panel || {};
  if (p.leaders_by_term) {
    parts.push(section("Leaders by term", h("div", { class: "cells" }, p.leaders_by_term.map(([t, who]) =>
      h("span", { style: `--h:${hue(`term${t}`)}`, title: `term ${t}: ${fmtValue(who)}` }, `t${t} ${fmtValue(who)}`)))));
  }
  if (p.storage) {
    const st = p.storage;
    const writes = st.writes || [];
    parts.push(section(`Storage (fencing ${st.fencing ? "on" : "off"}, highest token ${st.highest_token})`,
      writes.length ? table(writes.slice(-8).map((w) => (Array.isArray(w) ? { at_ms: w[0], writer: w[1], token: w[2], accepted: w[3] } : w)),
        null, { rowClass: (r) => (r.accepted ? null : "refused") })
        : h("p", { class: "small" }, "no write yet")));
  }
  const rest = Object.fromEntries(Object.entries(p).filter(([k]) => !["leaders_by_term", "storage"].includes(k)));
  if (Object.keys(rest).length) parts.push(pairs(rest));
  fill(el, ...parts);
}

export function nodeLabel(sm, n) {
  if ("commit_index" in sm) return `term ${sm.term} · log ${sm.log_length} · commit ${sm.commit_index}`;
  if ("highest_token" in sm) return `token ${sm.highest_token} · ok ${sm.accepted} · refused ${sm.rejected}`;
  if ("answered" in sm) return `answered ${sm.answered} · pending ${sm.pending}`;
  return "";
}
