"""Seeded random fault schedules, for property tests and counterexample search.

``random_schedule`` draws a plausible sequence of faults over a time window, from its
own stream of the seed, and ends with a *settle* phase: every node restarted or resumed,
every link healed and every link setting put back, so that "eventually" properties can be
checked at the end of the run. It tracks what it broke, so it never restarts a live node
or resumes a running one: the schedule reads like something a person would do.

``DEFAULT_KINDS`` are the node and partition faults and clock skew and drift;
``ALL_KINDS`` adds every other fault the engine has: clock jumps, and a link's or the
whole network's latency, loss and duplication, and the model's own client commands
(``clients``: for each command type, the values each field may take). With ``roles`` (the model's
``addressable_roles``) a fault on one node aims at a role instead, half of the time,
whoever plays it when the fault applies (a leader, a lease holder): the faults that break
protocols are mostly the ones that hit the node that matters at that moment.

The result is a list of wire commands (``{"at_ms": ..., "type": ...}``), the same
vocabulary as scenario files, so a failing schedule pastes straight into a scenario.
"""

from __future__ import annotations

from .rng import Stream

DEFAULT_KINDS = ("crash", "pause", "cut", "partition", "skew", "drift", "heal")
ALL_KINDS = DEFAULT_KINDS + ("jump", "link", "network", "client")
DRIFT_RATES = (0.5, 0.8, 0.9, 0.95, 1.05, 1.1, 1.25, 2.0)


def random_schedule(seed: int, targets, duration_ms: int, *, faults: int = 6,
                    kinds=DEFAULT_KINDS, settle_ms: int | None = None,
                    all_nodes=None, max_down: int | None = None, roles=(),
                    network: dict | None = None, clients=(), peers=(),
                    probes: bool = False) -> list[dict]:
    """About ``faults`` faults on ``targets`` in [0, duration_ms − settle_ms), then repairs.

    ``all_nodes`` (default ``targets``) are the nodes a partition may group; ``max_down``
    bounds how many targets are crashed or paused at once (default: a minority);
    ``roles`` are roles a fault on one node may aim at; ``network`` is the scenario's
    network (its ``latency_ms``, ``loss``, ``duplicate``), what the settle phase puts back;
    ``clients`` are ``(type, required, {field: choices})`` of the model's client commands.
    ``peers`` are groups of nodes of one kind (the servers): half of the cuts then isolate
    one of them (or the node playing a role) from the rest of its group, leaving it
    reachable by everyone else, a partial partition. ``probes``: around a fault on one node,
    and for half of the client commands drawn, the client commands that can name a node
    are sent to it in a burst (see ``_probe``).
    """
    rng = Stream.for_purpose(seed, "faults")
    targets = list(targets)
    all_nodes = list(all_nodes or targets)
    settle_ms = duration_ms // 3 if settle_ms is None else settle_ms
    window = max(1, duration_ms - settle_ms)
    max_down = (len(targets) - 1) // 2 if max_down is None else max_down
    times = sorted(rng.randint(1, max(1, window - 1)) for _ in range(faults))
    down_until: dict[str, float] = {}  # node -> when it is back (inf: only at the end)
    down_kind: dict[str, str] = {}
    out: list[dict] = []
    links_set: list[tuple[str, str]] = []
    network_set = False
    for at in times:
        kind = rng.choice(list(kinds))
        up = [n for n in targets if down_until.get(n, -1) <= at]
        if kind in ("crash", "pause") and (len(targets) - len(up) >= max_down or not up):
            kind = "heal"
        if kind in ("crash", "pause"):
            node = rng.choice(up)
            out.append({"at_ms": at, "type": kind, "node": node})
            back = at + rng.randint(50, max(60, window // 3))
            if back < window:
                out.append({"at_ms": back, "type": "restart" if kind == "crash" else "resume",
                            "node": node})
            down_until[node] = back if back < window else float("inf")
            down_kind[node] = kind
            _probe(rng, out, at, node, clients if probes else (), window)
        elif kind == "cut" and peers and rng.random() < 0.5:
            group = list(rng.choice(list(peers)))
            node = _node(rng, group, roles)
            out += [{"at_ms": at, "type": "cut", "from": node, "to": other}
                    for other in group if other != node]
            _probe(rng, out, at, node, clients if probes else (), window)
        elif kind == "cut" and len(all_nodes) >= 2:
            a = rng.choice(all_nodes)
            b = rng.choice([n for n in all_nodes if n != a])
            out.append({"at_ms": at, "type": "cut", "from": a, "to": b,
                        "oneway": rng.random() < 0.3})
        elif kind == "partition" and len(all_nodes) >= 2:
            shuffled = list(all_nodes)
            rng.shuffle(shuffled)
            k = rng.randint(1, len(shuffled) - 1)
            out.append({"at_ms": at, "type": "partition", "groups": [sorted(shuffled[:k])]})
        elif kind == "skew" and targets:
            out.append({"at_ms": at, "type": "skew", "node": _node(rng, targets, roles),
                        "offset_ms": rng.randint(-500, 500)})
        elif kind == "drift" and targets:
            out.append({"at_ms": at, "type": "drift", "node": _node(rng, targets, roles),
                        "rate": rng.choice(list(DRIFT_RATES))})
        elif kind == "jump" and targets:
            out.append({"at_ms": at, "type": "jump", "node": _node(rng, targets, roles),
                        "by_ms": rng.randint(-1000, 1000)})
        elif kind == "link" and len(all_nodes) >= 2:
            a = rng.choice(all_nodes)
            b = rng.choice([n for n in all_nodes if n != a])
            out.append({"at_ms": at, "type": "link", "from": a, "to": b,
                        **_impairment(rng), "oneway": rng.random() < 0.5})
            links_set += [(a, b), (b, a)]
        elif kind == "network":
            out.append({"at_ms": at, "type": "network", **_impairment(rng)})
            network_set = True
        elif kind == "client" and clients:
            client = rng.choice(list(clients))
            nodes = client[2].get("node", ())
            if probes and nodes and rng.random() < 0.5:  # a burst at one node
                _probe(rng, out, at, rng.choice(list(nodes)), clients, window)
            else:
                out.append(_client(rng, at, client))
        else:
            out.append({"at_ms": at, "type": "heal"})
    if roles:  # half of the crashes and pauses that last to the settle phase aim at a role
        for cmd in out:
            if cmd["type"] in ("crash", "pause") and down_until[cmd["node"]] == float("inf") \
                    and rng.random() < 0.5:
                cmd["node"] = {"role": rng.choice(list(roles))}
    out.sort(key=lambda c: c["at_ms"])
    end = window
    out.append({"at_ms": end, "type": "heal"})
    net = network or {}
    settings = {"latency_ms": list(net.get("latency_ms", (10, 15))),
                "loss": net.get("loss", 0.0), "duplicate": net.get("duplicate", 0.0)}
    if network_set:
        out.append({"at_ms": end, "type": "network", **settings})
    for a, b in dict.fromkeys(links_set):
        out.append({"at_ms": end, "type": "link", "from": a, "to": b, "oneway": True,
                    **settings})
    if roles:  # whoever a role-aimed fault hit: everything comes back
        for node in targets:
            out += [{"at_ms": end, "type": "restart", "node": node},
                    {"at_ms": end, "type": "resume", "node": node}]
        return out
    for node, until in down_until.items():
        if until == float("inf"):
            out.append({"at_ms": end, "type": "restart" if down_kind[node] == "crash"
                        else "resume", "node": node})
    return out


def _client(rng, at, client, node=None) -> dict:
    """One client command at ``at`` (to ``node`` if given), its fields drawn from their
    choices (an optional one half of the time)."""
    kind, required, choices = client
    cmd = {"at_ms": at, "type": kind,
           **{name: rng.choice(list(values)) for name, values in choices.items()
              if name in required or rng.random() < 0.5}}
    if node is not None:
        cmd["node"] = node
    return cmd


def _probe(rng, out, at, node, clients, window) -> None:
    """A burst of client commands at ``node``, just hit by a fault at ``at`` (or chosen
    for a burst): each of those that can name it once at most 100 ms before ``at`` and
    once in the two seconds after."""
    aimed = [c for c in clients if type(node) is str and node in c[2].get("node", ())]
    for client in aimed:
        out.append(_client(rng, max(0, at - rng.randint(1, 100)), client, node))
        later = rng.randint(at + 1, max(at + 1, min(window - 1, at + 2000)))
        out.append(_client(rng, later, client, node))


def _node(rng, targets, roles):
    """A target node, or half of the time (with ``roles``) a role to aim at."""
    if roles and rng.random() < 0.5:
        return {"role": rng.choice(list(roles))}
    return rng.choice(targets)


def _impairment(rng) -> dict:
    """One of latency, loss or duplication, at a level that hurts without silencing."""
    what = rng.choice(["latency_ms", "loss", "duplicate"])
    if what == "latency_ms":
        lo = rng.randint(1, 300)
        return {"latency_ms": [lo, lo + rng.randint(0, 300)]}
    return {what: rng.choice([0.1, 0.3, 0.5, 0.8])}
