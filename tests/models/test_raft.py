"""The Raft model, one rule at a time: feed one event to one handler, assert state and sends.

Then every Raft preset, run to its end: it matches its expectation, and the numbers that
show its phenomenon are the ones the narrative promises.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from playground.models.base import MS, SECOND, Timer
from playground.models.fsm import IllegalTransition
from playground.models.raft import (CANDIDATE, CLIENT, FOLLOWER, LEADER, PRE_CANDIDATE,
                                    STORAGE, Raft, RaftTimer, Server, ServerState)
from playground.models.raft.facts import BecameLeader, ExecutedAgain, ReadAnswered, ReadIssued
from playground.models.raft.messages import (SENTINEL, Log, AppendEntries, AppendEntriesResult,
                                             ClientReply, ClientRequest, ConfigEntry, Entry,
                                             InstallSnapshot,
                                             InstallSnapshotResult,
                                             ReadIndexHeartbeat, ReadIndexHeartbeatResult,
                                             ReadReply, ReadRequest, RequestVote,
                                             RequestVoteResult, StorageWrite,
                                             StorageWriteResult)
from playground.engine.commands import ScenarioError
from playground.scenarios import presets, run
from playground.scenarios.schema import validate
from tests.fakes import FakeContext

SERVERS = ("n1", "n2", "n3", "n4", "n5")


def model(nodes=5, **variant):
    return Raft(nodes, {"election_timeout_ms": [150, 300], "heartbeat_ms": 50}, variant)


def context(m, node="n1", now=0, ghost=True):
    peers = tuple(s for s in m.servers if s != node)
    return FakeContext(node=node, peers=peers, params=m.p, variant=m.v,
                       ghost=m.init_ghost() if ghost else None, now=now)


def entry(term, index):
    return Entry(term, index, f"k{index}", index)


def server(term=0, terms=(), role=FOLLOWER, **fields):
    """A server whose log holds one entry per term in ``terms`` (index 1, 2, ...)."""
    st = ServerState(current_term=term, config=SERVERS, everyone=True, member=True,
                     snapshot_config=SERVERS)
    st.log = Log([SENTINEL] + [entry(t, i) for i, t in enumerate(terms, start=1)])
    st.role = role
    for name, value in fields.items():
        setattr(st, name, value)
    return st


def leader(m, ctx, term, terms=()):
    """A freshly elected leader (via the real transition), its sends cleared."""
    st = server(term, terms, role=CANDIDATE, voted_for=ctx.node)
    m.role_objects["server"].become_leader(st, ctx)
    ctx.clear()
    return st


# -- elections ---------------------------------------------------------------------------

def test_start_arms_a_randomized_election_timer_on_the_nodes_clock():
    m = model()
    drawn = set()
    for node in SERVERS:
        ctx = context(m, node)
        m.on_start(m.init_node(node), ctx)
        assert 150 * MS <= ctx.timers["election"] <= 300 * MS
        drawn.add(ctx.timers["election"])
    assert len(drawn) > 1


def test_election_timeout_makes_a_candidate_that_votes_for_itself_and_asks_everyone():
    m = model()
    ctx = context(m)
    st = server(3, terms=(1, 3))
    m.on_timer(st, Timer(RaftTimer.ELECTION), ctx)
    assert st.role is CANDIDATE and st.current_term == 4 and st.voted_for == "n1"
    sent = ctx.sent_of(RequestVote)
    assert [to for to, _ in sent] == ["n2", "n3", "n4", "n5"]
    assert sent[0][1] == RequestVote(4, "n1", 2, 3, False)
    assert ctx.counters["elections"] == 1 and "election" in ctx.timers


def test_prevote_asks_first_without_raising_the_term():
    m = model(prevote=True)
    ctx = context(m)
    st = server(3, terms=(3,))
    m.on_timer(st, Timer(RaftTimer.ELECTION), ctx)
    assert st.role is PRE_CANDIDATE and st.current_term == 3 and st.voted_for is None
    assert ctx.sent_of(RequestVote)[0][1] == RequestVote(4, "n1", 1, 3, True)
    for voter in ("n2", "n3"):  # two grants plus its own: a majority of five
        m.on_message(st, RequestVoteResult(4, True, True), voter, ctx)
    assert st.role is CANDIDATE and st.current_term == 4 and st.voted_for == "n1"


def test_a_prevote_is_refused_while_a_leader_is_heard():
    m = model(prevote=True)
    ctx = context(m, "n2", now=1000 * MS)
    st = server(2, terms=(2,), leader_id="n1", heard_leader_at=950 * MS)
    m.on_message(st, RequestVote(3, "n3", 1, 2, True), "n3", ctx)
    assert ctx.sent == [("n3", RequestVoteResult(2, False, True))]
    assert st.current_term == 2  # a pre-vote never changes the receiver's term
    ctx.clear()
    ctx.now = 1200 * MS  # no heartbeat for longer than the minimum timeout
    m.on_message(st, RequestVote(3, "n3", 1, 2, True), "n3", ctx)
    assert ctx.sent == [("n3", RequestVoteResult(3, True, True))]


def test_one_vote_per_term_first_come_first_served():
    m = model()
    ctx = context(m, "n3")
    st = server(1, terms=(1,))
    m.on_message(st, RequestVote(2, "n1", 1, 1), "n1", ctx)
    m.on_message(st, RequestVote(2, "n2", 1, 1), "n2", ctx)
    m.on_message(st, RequestVote(2, "n1", 1, 1), "n1", ctx)  # a retry by the same one
    assert [m_.vote_granted for _, m_ in ctx.sent] == [True, False, True]
    assert st.voted_for == "n1" and st.current_term == 2


def test_broken_variant_grants_several_votes_in_one_term():
    m = model(multiple_votes_per_term=True)
    ctx = context(m, "n3")
    st = server(1, terms=(1,))
    m.on_message(st, RequestVote(2, "n1", 1, 1), "n1", ctx)
    m.on_message(st, RequestVote(2, "n2", 1, 1), "n2", ctx)
    assert [m_.vote_granted for _, m_ in ctx.sent] == [True, True]


@pytest.mark.parametrize("last_index, last_term, granted", [
    (2, 2, True),   # same last term, same length
    (5, 2, True),   # same last term, longer
    (1, 2, False),  # same last term, shorter
    (1, 3, True),   # newer last term wins whatever the length
    (9, 1, False),  # older last term loses whatever the length
])
def test_vote_only_for_a_log_at_least_as_up_to_date(last_index, last_term, granted):
    m = model()
    ctx = context(m, "n2")
    st = server(2, terms=(1, 2))
    m.on_message(st, RequestVote(3, "n1", last_index, last_term), "n1", ctx)
    assert ctx.sent == [("n1", RequestVoteResult(3, granted))]
    assert st.current_term == 3  # the newer term is adopted either way


def test_a_stale_vote_request_is_rejected_with_the_current_term():
    m = model()
    ctx = context(m, "n2")
    st = server(5, terms=(5,))
    m.on_message(st, RequestVote(4, "n1", 9, 4), "n1", ctx)
    assert ctx.sent == [("n1", RequestVoteResult(5, False))]
    assert st.voted_for is None and ctx.counters["stale_messages_rejected"] == 1


def test_a_majority_of_votes_makes_a_leader_that_sends_heartbeats_at_once():
    m = model()
    ctx = context(m)
    st = server(1, terms=(1, 1))
    m.on_timer(st, Timer(RaftTimer.ELECTION), ctx)
    ctx.clear()
    m.on_message(st, RequestVoteResult(2, True), "n2", ctx)
    assert st.role is CANDIDATE
    m.on_message(st, RequestVoteResult(2, True), "n2", ctx)  # a duplicate counts once
    assert st.role is CANDIDATE
    m.on_message(st, RequestVoteResult(2, True), "n3", ctx)
    assert st.role is LEADER and st.leader_id == "n1"
    assert st.next_index == dict.fromkeys(("n2", "n3", "n4", "n5"), 3)
    assert st.match_index == dict.fromkeys(("n2", "n3", "n4", "n5"), 0)
    beats = ctx.sent_of(AppendEntries)
    assert [to for to, _ in beats] == ["n2", "n3", "n4", "n5"]
    assert beats[0][1] == AppendEntries(2, "n1", 2, 1, (), 0)
    assert "heartbeat" in ctx.timers and "election" not in ctx.timers
    assert ctx.sent_of(StorageWrite) == [(STORAGE, StorageWrite(2, "n1", 0))]


def test_a_follower_cannot_jump_to_leader():
    with pytest.raises(IllegalTransition):
        Server.become(server(1), LEADER)


def test_a_newer_term_in_any_message_makes_a_leader_step_down_at_once():
    m = model()
    ctx = context(m)
    st = leader(m, ctx, 2, terms=(2,))
    m.on_message(st, AppendEntriesResult(7, False, 0, 0), "n3", ctx)
    assert st.role is FOLLOWER and st.current_term == 7 and st.voted_for is None
    assert ctx.counters["leader_step_downs"] == 1
    assert "heartbeat" not in ctx.timers and "election" in ctx.timers


# -- AppendEntries at the follower ------------------------------------------------------

def test_append_entries_from_an_older_term_is_rejected():
    m = model()
    ctx = context(m, "n2")
    st = server(3, terms=(1, 3))
    m.on_message(st, AppendEntries(2, "n1", 2, 3, (), 2), "n1", ctx)
    assert ctx.sent == [("n1", AppendEntriesResult(3, False, 0, 0))]
    assert st.commit_index == 0 and st.leader_id is None
    assert ctx.counters["stale_messages_rejected"] == 1


def test_a_missing_prev_entry_is_rejected_with_the_log_end_as_hint():
    m = model()
    ctx = context(m, "n2")
    st = server(2, terms=(1, 2))
    m.on_message(st, AppendEntries(2, "n1", 5, 2, (entry(2, 6),), 0), "n1", ctx)
    assert ctx.sent == [("n1", AppendEntriesResult(2, False, 0, 3))]
    assert len(st.log) == 3 and "election" in ctx.timers  # a live leader resets the timer


def test_a_prev_term_mismatch_is_rejected_with_the_first_index_of_that_term():
    m = model()
    ctx = context(m, "n2")
    st = server(3, terms=(1, 2, 2, 2))
    m.on_message(st, AppendEntries(3, "n1", 4, 3, (), 0), "n1", ctx)
    assert ctx.sent == [("n1", AppendEntriesResult(3, False, 0, 2))]
    assert [e.term for e in st.log[1:]] == [1, 2, 2, 2]
    assert ctx.counters["log_mismatches"] == 1


def test_a_conflicting_suffix_is_truncated_and_replaced():
    m = model()
    ctx = context(m, "n2")
    st = server(3, terms=(1, 2, 2, 2))
    new = (entry(3, 3), entry(3, 4))
    m.on_message(st, AppendEntries(3, "n1", 2, 2, new, 0), "n1", ctx)
    assert st.log[1:] == [entry(1, 1), entry(2, 2), *new]
    assert ctx.sent == [("n1", AppendEntriesResult(3, True, 4, 0))]
    assert ctx.counters["truncated_entries"] == 2


def test_entries_replacing_committed_ones_take_the_commit_point_back_with_them():
    # Only a leader without a committed entry (a broken variant) sends this. The server
    # goes on with the log it has: its commit point and what it applied fall back, and a
    # read at it later does not index past its log (it used to raise IndexError).
    m = model()
    ctx = context(m, "n2")
    st = server(3, terms=(1, 2, 2, 2), commit_index=4, last_applied=4)
    m.on_message(st, AppendEntries(3, "n1", 2, 2, (entry(3, 3),), 0), "n1", ctx)
    assert len(st.log) - 1 == 3 and st.commit_index == st.last_applied == 2
    assert ctx.notes[-1][0] == "committed entries replaced"
    st.role = LEADER
    m.on_message(st, ReadRequest(7, "k1"), CLIENT, ctx)  # waits for an entry of its term


def test_the_summary_log_tail_is_redrawn_only_where_the_log_changed():
    m = model()
    srv = m.role_objects["server"]
    st = server(2, terms=[1] * 40)
    first = srv.summary("n1", st)
    assert first["log_start"] == 11 and first["log"] == [[1, f"k{i}", i] for i in range(11, 41)]
    assert srv.summary("n1", st)["log"] is first["log"]  # unchanged: the very list
    st.log.append(entry(2, 41))
    grown = srv.summary("n1", st)["log"]
    assert grown[-1] == [2, "k41", 41] and all(a is b for a, b in zip(grown, first["log"][1:]))
    del st.log[30:]
    st.log.extend([entry(3, 30)])
    cut = srv.summary("n1", st)
    assert cut["log"] == [[e.term, e.key, e.value] for e in st.log[cut["log_start"]:]]
    assert cut["log"][-1] == [3, "k30", 30] and cut["log_start"] == 1
    with pytest.raises(TypeError):
        st.log[3] = entry(3, 3)  # a change the version would not count


def test_matching_entries_are_never_truncated_by_an_older_append():
    m = model()
    ctx = context(m, "n2")
    st = server(3, terms=(1, 3, 3, 3))
    kept = list(st.log)
    m.on_message(st, AppendEntries(3, "n1", 1, 1, (kept[2],), 0), "n1", ctx)  # late duplicate
    assert st.log == kept
    assert ctx.sent == [("n1", AppendEntriesResult(3, True, 2, 0))]
    assert "truncated_entries" not in ctx.counters


def test_broken_variant_skips_the_prev_log_term_check():
    m = model(skip_prev_log_term_check=True)
    ctx = context(m, "n2")
    st = server(3, terms=(1, 2))
    m.on_message(st, AppendEntries(3, "n1", 2, 3, (entry(3, 3),), 0), "n1", ctx)
    assert [e.term for e in st.log[1:]] == [1, 2, 3]  # appended after a mismatched entry
    assert ctx.sent == [("n1", AppendEntriesResult(3, True, 3, 0))]


def test_the_follower_commits_up_to_leader_commit_but_not_past_what_it_verified():
    m = model()
    ctx = context(m, "n2")
    st = server(2, terms=(1, 1, 2, 2))
    m.on_message(st, AppendEntries(2, "n1", 2, 1, (), 9), "n1", ctx)
    assert st.commit_index == 2 and st.last_applied == 2  # index 2: last verified entry
    assert st.kv == {"k1": 1, "k2": 2}
    m.on_message(st, AppendEntries(2, "n1", 4, 2, (), 3), "n1", ctx)
    assert st.commit_index == 3 and st.kv["k3"] == 3


def test_append_entries_of_the_current_term_turns_a_candidate_into_a_follower():
    m = model()
    ctx = context(m, "n2")
    st = server(4, terms=(1,), role=CANDIDATE, voted_for="n2")
    m.on_message(st, AppendEntries(4, "n1", 1, 1, (), 0), "n1", ctx)
    assert st.role is FOLLOWER and st.current_term == 4 and st.leader_id == "n1"


# -- the leader --------------------------------------------------------------------------

def test_acks_advance_match_and_commit_an_entry_of_the_current_term_on_a_majority():
    m = model()
    ctx = context(m)
    st = leader(m, ctx, 2, terms=(1, 2))
    m.on_message(st, AppendEntriesResult(2, True, 2, 0), "n2", ctx)
    assert st.match_index["n2"] == 2 and st.next_index["n2"] == 3 and st.commit_index == 0
    m.on_message(st, AppendEntriesResult(2, True, 2, 0), "n3", ctx)
    assert st.commit_index == 2 and st.last_applied == 2  # leader + n2 + n3 of five
    assert ctx.sent_of(ClientReply) == [(CLIENT, ClientReply(1, True, "n1")),
                                        (CLIENT, ClientReply(2, True, "n1"))]


def test_figure_8_rule_an_old_term_entry_on_a_majority_is_not_committed():
    m = model()
    ctx = context(m)
    st = leader(m, ctx, 4, terms=(1, 2))
    for peer in ("n2", "n3"):
        m.on_message(st, AppendEntriesResult(4, True, 2, 0), peer, ctx)
    assert st.commit_index == 0
    st.log.append(entry(4, 3))  # an entry of its own term commits both
    for peer in ("n2", "n3"):
        m.on_message(st, AppendEntriesResult(4, True, 3, 0), peer, ctx)
    assert st.commit_index == 3


def test_broken_variant_commits_an_old_term_entry_by_counting_replicas():
    m = model(commit_old_terms_by_count=True)
    ctx = context(m)
    st = leader(m, ctx, 4, terms=(1, 2))
    for peer in ("n2", "n3"):
        m.on_message(st, AppendEntriesResult(4, True, 2, 0), peer, ctx)
    assert st.commit_index == 2


def test_a_rejection_backs_next_index_off_to_the_hint_and_retries_at_once():
    m = model()
    ctx = context(m)
    st = leader(m, ctx, 3, terms=(1, 1, 3, 3))
    m.on_message(st, AppendEntriesResult(3, False, 0, 2), "n2", ctx)
    assert st.next_index["n2"] == 2
    assert ctx.sent == [("n2", AppendEntries(3, "n1", 1, 1, tuple(st.log[2:5]), 0))]
    st.match_index["n3"] = 3
    m.on_message(st, AppendEntriesResult(3, False, 0, 1), "n3", ctx)
    assert st.next_index["n3"] == 4  # never below what the follower is known to match


def test_a_follower_that_acknowledges_and_is_still_behind_gets_the_next_entries():
    m = Raft(3, {"max_entries_per_append": 1}, {})
    ctx = context(m)
    st = leader(m, ctx, 1, terms=(1, 1, 1))
    st.next_index["n2"] = 1
    m.on_message(st, AppendEntriesResult(1, True, 1, 0), "n2", ctx)
    assert ctx.sent_of(AppendEntries) == [("n2", AppendEntries(1, "n1", 1, 1, (st.log[2],), 1))]
    ctx.clear()
    m.on_message(st, AppendEntriesResult(1, True, 1, 0), "n2", ctx)  # a duplicate ack
    assert ctx.sent == []


def test_heartbeats_skip_followers_sent_to_recently_and_share_one_message():
    m = model()
    ctx = context(m, now=1000 * MS)
    st = leader(m, ctx, 1, terms=(1,))
    ctx.now = 1050 * MS
    st.last_sent["n3"] = 1040 * MS  # sent to 10 ms ago: no heartbeat needed yet
    m.on_timer(st, Timer(RaftTimer.HEARTBEAT), ctx)
    beats = ctx.sent_of(AppendEntries)
    assert [to for to, _ in beats] == ["n2", "n4", "n5"]
    assert beats[0][1] is beats[1][1] is beats[2][1]
    assert ctx.timers["heartbeat"] == 50 * MS


def test_a_client_request_is_appended_and_sent_to_caught_up_followers_only():
    m = model()
    ctx = context(m)
    st = leader(m, ctx, 2, terms=(1,))
    st.next_index["n5"] = 1  # behind: it will get entries when it acknowledges
    m.on_message(st, ClientRequest(7, "x", 42), CLIENT, ctx)
    assert st.log[-1] == Entry(2, 7, "x", 42)
    assert [to for to, _ in ctx.sent_of(AppendEntries)] == ["n2", "n3", "n4"]
    assert ctx.sent[0][1] == AppendEntries(2, "n1", 1, 1, (Entry(2, 7, "x", 42),), 0)


def test_a_follower_redirects_the_client_to_the_leader_it_knows():
    m = model()
    ctx = context(m, "n3")
    st = server(2, leader_id="n1")
    m.on_message(st, ClientRequest(7, "x", 42), CLIENT, ctx)
    assert ctx.sent == [(CLIENT, ClientReply(7, False, "n1"))]
    assert len(st.log) == 1


def test_check_quorum_steps_down_a_leader_that_hears_no_majority():
    m = model(check_quorum=True)
    ctx = context(m)
    st = leader(m, ctx, 2, terms=(2,))
    assert ctx.timers["check_quorum"] == 150 * MS
    m.on_message(st, AppendEntriesResult(2, True, 1, 0), "n2", ctx)
    m.on_message(st, AppendEntriesResult(2, True, 1, 0), "n3", ctx)
    m.on_timer(st, Timer(RaftTimer.CHECK_QUORUM), ctx)
    assert st.role is LEADER  # itself, n2 and n3: a majority answered
    m.on_message(st, AppendEntriesResult(2, True, 1, 0), "n2", ctx)
    m.on_timer(st, Timer(RaftTimer.CHECK_QUORUM), ctx)
    assert st.role is FOLLOWER and ctx.counters["check_quorum_step_downs"] == 1


def test_check_quorum_servers_ignore_vote_requests_while_they_hear_a_leader():
    m = model(check_quorum=True)
    ctx = context(m, "n2", now=1000 * MS)
    st = server(2, terms=(2,), leader_id="n1", heard_leader_at=990 * MS)
    m.on_message(st, RequestVote(9, "n4", 1, 2), "n4", ctx)
    assert ctx.sent == [] and st.current_term == 2


# -- storage and client ------------------------------------------------------------------

def test_the_storage_rejects_a_token_below_the_highest_accepted():
    m = model()
    ctx = context(m, STORAGE)
    st = m.init_node(STORAGE)
    m.on_message(st, StorageWrite(3, "n2", 5), "n2", ctx)
    m.on_message(st, StorageWrite(2, "n1", 4), "n1", ctx)
    m.on_message(st, StorageWrite(3, "n2", 6), "n2", ctx)
    assert [r for _, r in ctx.sent] == [StorageWriteResult(3, True, 3),
                                        StorageWriteResult(2, False, 3),
                                        StorageWriteResult(3, True, 3)]
    assert st.highest_token == 3 and ctx.counters == {"fenced_writes": 1}


def test_without_fencing_the_stale_write_lands():
    m = model(fencing=False)
    ctx = context(m, STORAGE)
    st = m.init_node(STORAGE)
    m.on_message(st, StorageWrite(3, "n2", 5), "n2", ctx)
    m.on_message(st, StorageWrite(2, "n1", 4), "n1", ctx)
    assert st.stale_accepted == 1 and st.highest_token == 3
    assert ctx.counters == {"stale_writes_accepted": 1}


def test_a_fenced_leader_learns_the_newer_term_and_steps_down():
    m = model()
    ctx = context(m)
    st = leader(m, ctx, 2, terms=(2,))
    m.on_message(st, StorageWriteResult(2, False, 5), STORAGE, ctx)
    assert st.role is FOLLOWER and st.current_term == 5


def test_the_client_follows_redirects_and_records_latency_on_success():
    m = model()
    ctx = FakeContext(node=CLIENT, peers=m.servers, now=0)
    st = m.init_node(CLIENT)
    m.on_command(st, {"type": "put", "key": "x", "value": 1}, ctx)
    (first, request), = ctx.sent
    assert request == ClientRequest(1, "x", 1) and "retry:1" in ctx.timers
    ctx.clear()
    m.on_message(st, ClientReply(1, False, "n4"), first, ctx)
    assert ctx.sent == [("n4", ClientRequest(1, "x", 1))] and st.leader_guess == "n4"
    ctx.now = 80 * MS
    m.on_message(st, ClientReply(1, True, "n4"), "n4", ctx)
    assert st.pending == {} and ctx.samples["client_latency_ms"] == [80.0]
    assert "retry:1" not in ctx.timers and ctx.counters["client_ok"] == 1


# -- the engine around it ----------------------------------------------------------------

def test_a_crash_keeps_term_vote_and_log_and_forgets_the_rest():
    from playground.scenarios import build
    from playground.scenarios.schema import validate
    sim = build(validate({"model": "raft", "seed": 1, "nodes": 3, "duration_ms": 2000,
                          "commands": [{"at_ms": 1000, "type": "crash", "node": "n2"}]}))
    sim.run_until(999 * MS)
    before = sim.nodes["n2"].state
    assert before.commit_index > 0 and before.kv
    sim.run_until(1000 * MS)
    after = sim.nodes["n2"].state
    assert (after.current_term, after.voted_for, after.log) == (
        before.current_term, before.voted_for, before.log)
    assert after.commit_index == 0 and after.kv == {} and after.role is FOLLOWER
    # the configuration comes from the log: a crashed member is not shown "outside" it
    assert after.member and after.config == before.config
    assert sim.model.role_objects["server"].label(after) == "follower"


def test_the_checker_sees_two_leaders_in_one_term():
    m = model()
    from types import SimpleNamespace
    a, b = server(3, role=LEADER), server(3, role=LEADER)
    view = SimpleNamespace(ghost=m.init_ghost(), facts=[BecameLeader(3)], nodes={
        "n1": SimpleNamespace(state=a), "n2": SimpleNamespace(state=b)})
    assert m.check(view, "n1") == []
    assert m.check(view, "n2") == [("election_safety", "term 3 has two leaders: n1 and n2")]


# -- client sessions ----------------------------------------------------------------------

def duplicated_log(m, ctx):
    """A leader whose log holds request 1 twice (a retry appended after a lost reply)."""
    st = leader(m, ctx, 1)
    st.log = Log([SENTINEL, Entry(1, 1, "k0", 1), Entry(1, 2, "k0", 2), Entry(1, 1, "k0", 1)])
    st.commit_index = 3
    return st


def test_with_client_sessions_a_duplicate_is_answered_but_not_executed():
    m = model()
    ctx = context(m)
    st = duplicated_log(m, ctx)
    m.role_objects["server"].apply(st, ctx)
    assert st.kv == {"k0": 2} and st.executed == {1: 1, 2: 2} and ctx.facts == []
    assert [r.request_id for _, r in ctx.sent_of(ClientReply)] == [1, 2, 1]


def test_without_client_sessions_a_duplicate_is_executed_again_and_flagged():
    m = model(client_sessions=False)
    ctx = context(m)
    st = duplicated_log(m, ctx)
    m.role_objects["server"].apply(st, ctx)
    assert st.kv == {"k0": 1} and st.executed == {1: 1, 2: 2}
    assert ctx.facts == [ExecutedAgain(1, 1, 3)]
    view = SimpleNamespace(ghost=m.init_ghost(), facts=ctx.facts, cuts={}, groups=None,
                           alive=lambda nid: True, is_cut=lambda a, b: False,
                           nodes={"n1": SimpleNamespace(state=st)})
    found = list(m.check(view, "n1"))
    assert [inv for inv, _ in found] == ["at_most_once"]
    assert "n1 executed request 1 (k0=1) at index 1 and again at index 3" in found[0][1]


# -- reads --------------------------------------------------------------------------------

def committed_leader(m, ctx, term=2):
    """A leader of ``term`` whose log ends with a committed entry of its own term."""
    st = leader(m, ctx, term, terms=(1, term))
    st.commit_index = st.last_applied = 2
    st.kv = {"k1": 1, "k2": 2}
    return st


def test_a_follower_redirects_a_read_to_the_leader_it_knows():
    m = model()
    ctx = context(m, "n2")
    st = server(2, terms=(2,), leader_id="n1")
    m.on_message(st, ReadRequest(7, "k1"), CLIENT, ctx)
    assert ctx.sent == [(CLIENT, ReadReply(7, False, None, "n1"))]


def test_read_index_answers_only_after_a_majority_confirms_leadership():
    m = model()
    ctx = context(m)
    st = committed_leader(m, ctx)
    m.on_message(st, ReadRequest(7, "k2"), CLIENT, ctx)
    beats = ctx.sent_of(ReadIndexHeartbeat)
    assert [to for to, _ in beats] == ["n2", "n3", "n4", "n5"]
    assert beats[0][1] == ReadIndexHeartbeat(2, "n1", 1)
    assert st.reads[1][2] == 2  # the read index: its commit index when the read arrived
    assert ctx.sent_of(ReadReply) == []
    m.on_message(st, ReadIndexHeartbeatResult(2, 1, True), "n2", ctx)
    m.on_message(st, ReadIndexHeartbeatResult(2, 1, True), "n2", ctx)  # counted once
    m.on_message(st, ReadIndexHeartbeatResult(2, 1, False), "n4", ctx)
    assert ctx.sent_of(ReadReply) == []  # itself and n2: two of five
    m.on_message(st, ReadIndexHeartbeatResult(2, 1, True), "n3", ctx)
    assert ctx.sent_of(ReadReply) == [(CLIENT, ReadReply(7, True, 2, "n1"))]
    assert st.reads == {}


def test_read_index_waits_for_an_entry_of_the_leaders_own_term_appending_a_no_op():
    m = model()
    ctx = context(m)
    st = leader(m, ctx, 3, terms=(1, 2))  # new leader: nothing of term 3 yet
    st.commit_index = st.last_applied = 1
    m.on_message(st, ReadRequest(7, "k1"), CLIENT, ctx)
    assert st.deferred_reads == [(7, "k1", CLIENT)] and ctx.sent_of(ReadIndexHeartbeat) == []
    assert st.log[3] == Entry(3, 0, "", 0)  # the no-op
    assert {to for to, _ in ctx.sent_of(AppendEntries)} == {"n2", "n3", "n4", "n5"}
    for peer in ("n2", "n3"):
        m.on_message(st, AppendEntriesResult(3, True, 3, 0), peer, ctx)
    assert st.commit_index == 3 and st.last_applied == 3
    # entry 2 answers its client; the no-op answers no one and writes no key
    assert [r.request_id for _, r in ctx.sent_of(ClientReply)] == [2] and "" not in st.kv
    assert st.deferred_reads == [] and st.reads[1][2] == 3
    assert len(ctx.sent_of(ReadIndexHeartbeat)) == 4


def test_a_follower_confirms_a_read_index_heartbeat_as_a_heartbeat():
    m = model()
    ctx = context(m, "n2", now=5 * MS)
    st = server(2, terms=(2,), role=CANDIDATE)
    m.on_message(st, ReadIndexHeartbeat(2, "n1", 4), "n1", ctx)
    assert st.role is FOLLOWER and st.leader_id == "n1" and st.heard_leader_at == 5 * MS
    assert "election" in ctx.timers
    assert ctx.sent_of(ReadIndexHeartbeatResult) == [("n1", ReadIndexHeartbeatResult(2, 4, True))]
    ctx.clear()
    m.on_message(st, ReadIndexHeartbeat(1, "n5", 9), "n5", ctx)  # a deposed leader
    assert ctx.sent == [("n5", ReadIndexHeartbeatResult(2, 9, False))]


def test_a_deposed_leader_steps_down_and_abandons_its_reads():
    m = model()
    ctx = context(m)
    st = committed_leader(m, ctx)
    m.on_message(st, ReadRequest(7, "k2"), CLIENT, ctx)
    m.on_message(st, ReadIndexHeartbeatResult(3, 1, False), "n2", ctx)
    assert st.role is FOLLOWER and st.current_term == 3 and st.reads == {}
    assert ctx.counters["reads_abandoned"] == 1 and ctx.sent_of(ReadReply) == []


def test_a_confirmed_round_gives_a_lease_during_which_reads_are_answered_alone():
    m = model(read_mode="lease", check_quorum=True)
    ctx = context(m, now=10 * MS)
    st = committed_leader(m, ctx)
    m.on_message(st, ReadRequest(7, "k2"), CLIENT, ctx)  # no lease yet: a ReadIndex round
    ctx.now = 30 * MS
    for peer in ("n2", "n3"):
        m.on_message(st, ReadIndexHeartbeatResult(2, 1, True), peer, ctx)
    assert ctx.sent_of(ReadReply) == [(CLIENT, ReadReply(7, True, 2, "n1"))]
    assert st.lease_until == 10 * MS + m.timeout_lo  # from when the heartbeats went out
    ctx.clear()
    ctx.now = st.lease_until - 1
    m.on_message(st, ReadRequest(8, "k1"), CLIENT, ctx)
    assert ctx.sent == [(CLIENT, ReadReply(8, True, 1, "n1"))]  # alone, no round trip
    assert ctx.counters["lease_reads"] == 1
    ctx.clear()
    ctx.now = st.lease_until
    m.on_message(st, ReadRequest(9, "k1"), CLIENT, ctx)  # expired: a round again
    assert ctx.sent_of(ReadReply) == [] and len(ctx.sent_of(ReadIndexHeartbeat)) == 4


def test_stepping_down_ends_the_lease():
    m = model(read_mode="lease", check_quorum=True)
    ctx = context(m)
    st = committed_leader(m, ctx)
    st.lease_until = 10 * SECOND
    m.on_message(st, AppendEntriesResult(5, False, 0, 0), "n2", ctx)
    assert st.role is FOLLOWER and st.lease_until is None


def test_local_reads_answer_at_once_without_confirmation():
    m = model(read_mode="local")
    ctx = context(m)
    st = committed_leader(m, ctx)
    m.on_message(st, ReadRequest(7, "k2"), CLIENT, ctx)
    assert ctx.sent == [(CLIENT, ReadReply(7, True, 2, "n1"))]


def test_the_client_follows_a_read_redirect_and_records_the_answer():
    m = model()
    ctx = context(m, CLIENT, now=10 * MS)
    ctx.peers = m.servers
    st = m.init_node(CLIENT)
    m.on_command(st, {"type": "get", "key": "k1", "node": "n3"}, ctx)
    assert ctx.sent == [("n3", ReadRequest(1, "k1"))] and "read_retry:1" in ctx.timers
    ctx.clear()
    m.on_message(st, ReadReply(1, False, None, "n2"), "n3", ctx)
    assert ctx.sent == [("n2", ReadRequest(1, "k1"))] and st.leader_guess == "n2"
    ctx.now = 40 * MS
    m.on_message(st, ReadReply(1, True, 5, None), "n2", ctx)
    assert st.last_read == (1, "k1", 5, "n2") and st.reads == {}
    assert ctx.facts == [ReadAnswered(1, "k1", 5, "n2")]
    assert "read_retry:1" not in ctx.timers and ctx.samples["read_latency_ms"] == [30.0]


def test_a_read_may_return_the_value_at_its_start_or_a_concurrent_write_but_not_older():
    m = model()

    def outcome(value):
        g = m.init_ghost()
        g.committed = [0, 1, 2]
        g.write_index, g.write_value = {"k": [1, 2]}, {"k": [10, 20]}
        st = m.init_node(CLIENT)
        view = SimpleNamespace(nodes={CLIENT: SimpleNamespace(state=st)}, ghost=g,
                               facts=[ReadIssued(5, "k")])
        assert list(m.check(view, CLIENT)) == []  # the read starts at committed index 2
        g.committed.append(3)  # a write of 30 commits while the read is in flight
        g.write_index["k"].append(3)
        g.write_value["k"].append(30)
        view.facts = [ReadAnswered(5, "k", value, "n1")]
        return [inv for inv, _ in m.check(view, CLIENT)], g.stale_reads

    assert outcome(20) == ([], 0) and outcome(30) == ([], 0)
    assert outcome(10) == (["linearizable_reads"], 1)
    assert outcome(None) == (["linearizable_reads"], 1)  # k was written before it started


# -- presets -----------------------------------------------------------------------------

RAFT_PRESETS = sorted(name for name, s in presets().items() if s["model"] == "raft")


@pytest.fixture(scope="module")
def reports():
    return {name: run(presets()[name])[1] for name in RAFT_PRESETS}


def test_there_is_a_preset_per_claim_and_per_broken_variant():
    claims = {c for name in RAFT_PRESETS for c in presets()[name]["claims"]}
    assert {"C01", "C02", "C03", "C04", "C05"} <= claims
    for variant in Raft.variants:
        for value in variant.broken:
            assert any(presets()[name]["variant"][variant.name] == value
                       for name in RAFT_PRESETS), (variant.name, value)


@pytest.mark.parametrize("name", RAFT_PRESETS)
def test_preset_matches_its_expectation(reports, name):
    assert reports[name]["matches_expected"], reports[name]["mismatches"]
    assert presets()[name]["narrative"]


def test_split_brain_minority_commits_nothing_and_logs_converge(reports):
    m = reports["raft-quorum-split-brain"]["metrics"]
    assert m["minority_appends"] >= 3 and m["commits_in_minority"] == 0
    assert m["truncated_entries"] >= m["minority_appends"] and m["divergent_servers"] == 0


def test_prevote_turns_a_disruptive_rejoin_into_a_quiet_one(reports):
    without = reports["raft-rejoin-disrupts"]["metrics"]
    with_prevote = reports["raft-prevote-rejoin"]["metrics"]
    assert without["leader_step_downs"] >= 1 and with_prevote["leader_step_downs"] == 0


def test_fencing_and_check_quorum_each_keep_the_zombie_from_landing_a_stale_write(reports):
    assert reports["raft-fencing-zombie"]["metrics"]["fenced_writes"] >= 1
    assert reports["raft-broken-fencing-off"]["metrics"]["stale_writes_accepted"] >= 1
    assert reports["raft-check-quorum"]["metrics"]["stale_writes_accepted"] == 0


def test_figure_8_differs_only_in_the_commit_rule(reports):
    good, bad = reports["raft-figure8"], reports["raft-broken-commit-old-terms"]
    assert good["metrics"]["committed_entries"] == 1 and good["violations"] == []
    assert bad["metrics"]["committed_entries"] == 2
    assert {v["invariant"] for v in bad["violations"]} == {
        "commit_rule", "leader_completeness", "state_machine_safety"}
    first = bad["violations"][0]  # the unsafe commit, before any entry is lost
    assert first["invariant"] == "commit_rule" and first["node"] == "n1"
    assert "advanced its commit index from 0 to 2, whose entry (x=2) is of term 1" in first["detail"]


def test_bench_preset_is_fault_free_and_fast_to_commit(reports):
    m = reports["raft-bench"]["metrics"]
    assert m["leaders_elected"] == 1 and m["client_latency_p50_ms"] < 60


def test_a_deposed_leaders_local_read_is_stale_and_read_index_is_not(reports):
    local, read_index = reports["raft-stale-read-local"], reports["raft-read-index"]
    assert {v["invariant"] for v in local["violations"]} == {"linearizable_reads"}
    assert local["metrics"]["stale_reads"] >= 1
    assert read_index["violations"] == [] and read_index["metrics"]["stale_reads"] == 0
    # Linearizable reads cost a round of heartbeats: slower than local ones.
    assert read_index["metrics"]["read_latency_ms"]["p50"] > \
        local["metrics"]["read_latency_ms"]["p50"]


def test_a_retry_after_a_lost_reply_is_executed_once_only_with_client_sessions(reports):
    off, on = reports["raft-no-client-sessions"], reports["raft-client-sessions"]
    assert {v["invariant"] for v in off["violations"]} == {"at_most_once"}
    assert on["violations"] == []
    assert off["metrics"]["committed_entries"] == on["metrics"]["committed_entries"] == 3


def test_a_lease_counted_on_a_slow_clock_outlives_the_followers_patience(reports):
    good, slow = reports["raft-lease-read"], reports["raft-lease-read-clock-drift"]
    assert good["violations"] == [] and good["metrics"]["lease_reads"] >= 1
    assert {v["invariant"] for v in slow["violations"]} == {"linearizable_reads"}
    assert slow["metrics"]["lease_reads"] >= 2  # the stale answer came from the lease


def test_a_client_crash_keeps_its_request_ids_and_forgets_its_reads_in_flight():
    """Request ids survive a client crash (sessions must never see one reused), and the
    read checker starts again from the restarted client's counters."""
    scenario = {"model": "raft", "seed": 5, "nodes": 3, "duration_ms": 3000,
                "params": {"requests_per_second": 20, "reads_per_second": 20},
                "commands": [{"at_ms": 1000, "type": "crash", "node": "client"},
                             {"at_ms": 1300, "type": "restart", "node": "client"}]}
    sim, report = run(validate(scenario))
    assert report["violations"] == []
    def ids(lo, hi):
        return [r[4][2].request_id for r in sim.trace if r[1] == "send" and r[2] == CLIENT
                and lo <= r[0] < hi and hasattr(r[4][2], "request_id")]

    before, after = ids(0, 1_000_000), ids(1_300_000, 3_000_000)
    assert before and after and min(after) > max(before)
    assert report["metrics"]["reads_ok"] > 20


def test_the_leader_role_resolves_to_the_server_leading_the_newest_term():
    m = model()
    states = {s: server(1) for s in SERVERS}
    view = SimpleNamespace(nodes={s: SimpleNamespace(state=st) for s, st in states.items()})
    assert m.resolve_role(view, "leader") is None
    states["n2"].role = LEADER  # a deposed leader that has not heard of term 3 yet
    states["n4"].current_term, states["n4"].role = 3, LEADER
    assert m.resolve_role(view, "leader") == "n4"
    assert Raft.addressable_roles == ("leader",)


# -- log compaction and InstallSnapshot ------------------------------------------------------

def snapshot_model(nodes=5, every=3):
    return Raft(nodes, {"election_timeout_ms": [150, 300], "heartbeat_ms": 50,
                        "snapshot_log_length": every}, {})


def test_a_server_snapshots_its_state_machine_and_discards_the_applied_log():
    m = snapshot_model(every=3)
    ctx = context(m, "n2")
    st = server(1, terms=(1, 1, 1, 1))
    st.commit_index = 3
    m.role_objects["server"].apply(st, ctx)
    assert st.log.first == 0 and ctx.timers["snapshot"] == 1  # a step of its own
    m.on_timer(st, Timer(RaftTimer.SNAPSHOT), ctx)
    assert st.log.first == 3 and len(st.log) == 5 and st.log[3].term == 1
    assert st.snapshot_kv == {"k1": 1, "k2": 2, "k3": 3} and st.snapshot_executed == {1: 1, 2: 2, 3: 3}
    assert [type(f).__name__ for f in ctx.facts] == ["SnapshotTaken"]
    with pytest.raises(IndexError):
        st.log[2]


def test_a_leader_sends_install_snapshot_to_a_follower_behind_its_first_index():
    m = snapshot_model(every=3)
    ctx = context(m, "n1")
    st = leader(m, ctx, 2, terms=(1, 1, 1, 2))
    st.commit_index = 3
    m.role_objects["server"].apply(st, ctx)
    m.on_timer(st, Timer(RaftTimer.SNAPSHOT), ctx)
    st.next_index["n3"] = 2  # n3 lacks index 2, which the snapshot replaced
    ctx.clear()
    m.role_objects["server"].send_append(st, "n3", 0, ctx)
    [(to, msg)] = ctx.sent
    assert to == "n3" and msg == InstallSnapshot(2, "n1", 3, 1, (("k1", 1), ("k2", 2), ("k3", 3)),
                                                 ((1, 1), (2, 2), (3, 3)), SERVERS)
    ctx.clear()
    m.on_message(st, InstallSnapshotResult(2, 3), "n3", ctx)
    assert st.match_index["n3"] == 3 and st.next_index["n3"] == 4
    assert ctx.sent_of(AppendEntries)[0][1].prev_log_index == 3  # then entries from there


def test_a_follower_installs_a_snapshot_and_keeps_only_what_follows_it():
    m = snapshot_model(every=100)
    ctx = context(m, "n3")
    snap = InstallSnapshot(2, "n1", 3, 1, (("k1", 7),), ((9, 1),), SERVERS)
    st = server(1, terms=(1, 1))  # behind: the whole log goes
    m.on_message(st, snap, "n1", ctx)
    assert st.log.first == 3 and len(st.log) == 4 and st.kv == {"k1": 7}
    assert st.commit_index == st.last_applied == 3 and st.executed == {9: 1}
    assert ctx.sent == [("n1", InstallSnapshotResult(2, 3))]
    ctx = context(m, "n3")
    st = server(2, terms=(1, 1, 1, 2))  # holds index 3 of term 1: keeps index 4
    m.on_message(st, snap, "n1", ctx)
    assert st.log.first == 3 and len(st.log) == 5 and st.log[4].term == 2


def test_a_restarted_server_loads_its_snapshot():
    m = snapshot_model(every=2)
    ctx = context(m, "n2")
    st = server(1, terms=(1, 1, 1))
    st.commit_index = 2
    m.role_objects["server"].apply(st, ctx)
    m.on_timer(st, Timer(RaftTimer.SNAPSHOT), ctx)
    fresh = m.init_node("n2")
    for name in m.durable:
        if hasattr(st, name):
            setattr(fresh, name, getattr(st, name))
    m.on_start(fresh, context(m, "n2"))
    assert fresh.kv == {"k1": 1, "k2": 2} and fresh.commit_index == fresh.last_applied == 2


def test_install_snapshot_preset_brings_a_lagging_follower_up_safely():
    sim, report = run(presets()["raft-install-snapshot"])
    assert sim.violations == [] and report["metrics"]["snapshots_installed"] >= 1


# -- membership changes ----------------------------------------------------------------------

def test_add_server_makes_a_learner_then_a_voter_once_it_has_caught_up():
    m = model()
    ctx = context(m, "n1")
    st = leader(m, ctx, 2, terms=(1, 2))
    st.config = ("n1", "n2", "n3", "n4")
    st.everyone, st.commit_index = False, 2
    m.role_objects["server"].retarget(st, ctx)
    m.on_command(st, {"type": "add_server", "node": "n5"}, ctx)
    assert st.learners == {"n5": 2} and "n5" in st.targets and st.config_index == 0
    assert [to for to, _ in ctx.sent] == ["n5"]  # replicated to, not counted
    ctx.clear()
    m.on_message(st, AppendEntriesResult(2, True, 2, 0), "n5", ctx)
    assert st.learners == {} and st.config == SERVERS and st.config_index == 3
    assert type(st.log[3]) is ConfigEntry and st.log[3].servers == SERVERS
    assert len(ctx.sent_of(AppendEntries)) == 4  # the new configuration to every member


def test_a_change_waits_for_an_entry_of_the_leaders_term_unless_broken():
    for broken in (False, True):
        m = model(change_before_term_commit=broken)
        ctx = context(m, "n1")
        st = leader(m, ctx, 2, terms=(1,))
        m.on_command(st, {"type": "remove_server", "node": "n5"}, ctx)
        if broken:  # the 2015 bug: the new configuration at once
            assert st.config == ("n1", "n2", "n3", "n4") and type(st.log[2]) is ConfigEntry
        else:  # a no-op of its term first; the change starts when it commits
            assert st.config == SERVERS and st.log[2] == Entry(2, 0, "", 0)
            assert st.pending_change == ("remove", "n5")
            for peer in ("n2", "n3"):
                m.on_message(st, AppendEntriesResult(2, True, 2, 0), peer, ctx)
            assert st.pending_change is None and st.config == ("n1", "n2", "n3", "n4")


def test_a_leader_that_removed_itself_steps_down_once_the_change_commits():
    m = model()
    ctx = context(m, "n1")
    st = leader(m, ctx, 2, terms=(2,))
    st.commit_index = 1
    m.on_command(st, {"type": "remove_server", "node": "n1"}, ctx)
    assert st.config == ("n2", "n3", "n4", "n5") and st.role is LEADER
    for peer in ("n2", "n3"):
        m.on_message(st, AppendEntriesResult(2, True, 2, 0), peer, ctx)
    assert st.role is LEADER and st.commit_index == 1  # n1's own copy does not count
    m.on_message(st, AppendEntriesResult(2, True, 2, 0), "n4", ctx)
    assert st.commit_index == 2 and st.role is FOLLOWER
    assert m.role(st) == "outside"
    m.on_timer(st, Timer(RaftTimer.ELECTION), ctx)
    assert st.role is FOLLOWER  # a server outside its configuration never campaigns


def test_a_followers_configuration_takes_effect_on_append_and_reverts_on_truncation():
    m = model()
    ctx = context(m, "n2")
    st = server(1, terms=(1,))
    smaller = ConfigEntry(1, ("n1", "n2", "n3"))
    m.on_message(st, AppendEntries(1, "n1", 1, 1, (smaller,), 1), "n1", ctx)
    assert st.config == ("n1", "n2", "n3") and st.config_index == 2
    m.on_message(st, AppendEntries(2, "n3", 1, 1, (entry(2, 2),), 1), "n3", ctx)
    assert st.config == SERVERS and st.config_index == 0


def test_membership_commands_are_validated_and_refused_with_a_reason():
    with pytest.raises(ScenarioError, match="unknown node 'n9'"):
        run(validate({"model": "raft", "seed": 1, "nodes": 3,
                      "commands": [{"at_ms": 1, "type": "add_server", "node": "n9"}]}))
    m = model()
    ctx = context(m, "n1")
    st = leader(m, ctx, 1, terms=(1,))
    st.commit_index = 1
    m.on_command(st, {"type": "add_server", "node": "n2"}, ctx)
    m.on_command(st, {"type": "remove_server", "node": "n2"}, ctx)
    m.on_command(st, {"type": "remove_server", "node": "n3"}, ctx)
    assert len(st.log) == 3 and ctx.counters["membership_changes_refused"] == 1
    assert ["already a member" in n[0] for n in ctx.notes][:1] == [True]


def test_the_membership_incident_is_caught_broken_and_safe_fixed():
    sim, _ = run(presets()["incident-raft-membership-change"])
    assert {v.invariant for v in sim.violations} == {"election_safety", "leader_completeness"}
    fixed = dict(presets()["incident-raft-membership-change"])
    fixed["variant"] = {"change_before_term_commit": False}
    sim, report = run(fixed)
    assert sim.violations == [] and report["metrics"]["membership_changes"] >= 1


def test_the_panel_and_summaries_show_the_configuration_and_who_is_outside():
    scn = validate({"model": "raft", "seed": 2, "nodes": 5, "duration_ms": 1500,
                    "params": {"initial_members": 4, "snapshot_log_length": 5}})
    sim, _ = run(scn)
    panel = sim.model.panel(sim)
    assert panel["configuration"] == "n1 n2 n3 n4" and panel["outside"] == "n5"
    n5 = sim.model.summary("n5", sim.nodes["n5"].state)
    assert n5["member"] is False and sim.model.role(sim.nodes["n5"].state) == "outside"
    leader = sim.model.resolve_role(sim, "leader")
    summary = sim.model.summary(leader, sim.nodes[leader].state)
    assert summary["member"] and summary["snapshot_index"] >= 5 and summary["snapshot_term"] >= 1
