"""The saga model's invariants and metrics, judged from the services' facts and databases.

The observer (``SagaGhost``) never reads the orchestrator's log to judge a saga. Every time
a service tells it committed a local transaction (``LocalCommitted``) or recorded a step
as compensated (``StepUndone``), ``check`` samples the services' true databases for that
saga at true time:

* ``money_conserved`` (every event): the payment table holds at most one charge for the
  saga and refunds at most what it charged; at the end every charge has an approved
  order or a refund.
* the *inconsistency window* (claim C09): from the moment money is taken and the order is
  not approved until it is approved or refunded, a user sees the inconsistent middle.
* ``reverse_order`` (every event): the ``StepUndone`` facts of one saga, in the order the
  services told them, go from the highest step down.
* ``saga_atomicity`` (end of run): every saga is fully completed or fully compensated,
  judged from the services' databases; the log's phase is only quoted. A saga is a
  promise of *eventual* atomicity, so one still making progress when the run ends (a
  fact about it within the time a step may take with all its retries, and the
  orchestrator up) is in flight, not half-undone, and is not judged; one left without
  progress for longer, or whose orchestrator is down, is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from playground.models.base import MS, Checker
from playground.stats import summarize

from .facts import LocalCommitted, SagaStarted, StepUndone
from .messages import ORCHESTRATOR, PRICE, STEPS
from .orchestrator import SagaPhase
from .service import OrderStatus

COUNTERS = ("sagas_started", "sagas_completed", "sagas_compensated", "compensations_run",
            "retries", "steps_rejected", "steps_timed_out", "compensations_given_up",
            "duplicate_requests")


@dataclass(slots=True)
class SagaGhost:
    """The observer's notebook, written by the checker from the facts, in true time."""

    window_open: dict = field(default_factory=dict)  # saga -> true µs the window opened
    windows: list = field(default_factory=list)  # closed windows, ms
    compensation_order: dict = field(default_factory=dict)  # saga -> steps undone, in order
    last_progress: dict = field(default_factory=dict)  # saga -> true µs of its latest fact


def truth(view, saga: int) -> dict:
    """What the services' databases hold for one saga."""
    nodes = view.nodes
    pay = nodes["payment"].state.db
    return {
        "order": nodes["order"].state.db.orders.get(saga),
        "charged": pay.charged.get(saga, 0),
        "refunded": pay.refunded.get(saga, 0),
        "reserved": nodes["inventory"].state.db.reserved.get(saga, 0),
        "shipment": nodes["shipping"].state.db.shipments.get(saga),
    }


def half_done(t: dict) -> str:
    """'' if the saga's effects are all present or all absent, else what is left."""
    net = t["charged"] - t["refunded"]
    completed = (t["order"] is OrderStatus.APPROVED and net == PRICE
                 and t["reserved"] == 1 and t["shipment"] == "scheduled")
    left = []
    if t["order"] is OrderStatus.PENDING:
        left.append("the order is still pending")
    if t["order"] is OrderStatus.APPROVED:
        left.append("the order is approved")
    if net:
        left.append(f"payment still holds the ${net} charge")
    if t["reserved"]:
        left.append(f"{t['reserved']} item(s) still reserved")
    if t["shipment"] == "scheduled":
        left.append("shipping is still scheduled")
    if completed or not left:
        return ""
    return ", ".join(left)


class SagaChecker(Checker):
    def check(self, view, node_id):
        if not view.facts:
            return ()
        ghost = view.ghost
        out = []
        for fact in view.facts:
            kind = type(fact)
            if kind is SagaStarted:
                ghost.last_progress[fact.saga] = view.now
            if kind is not LocalCommitted and kind is not StepUndone:
                continue
            saga = fact.saga
            ghost.last_progress[saga] = view.now
            t = truth(view, saga)
            if t["charged"] > PRICE:
                out.append(("money_conserved", f"saga {saga} was charged ${t['charged']} "
                                               f"for a ${PRICE} purchase"))
            if t["refunded"] > t["charged"]:
                out.append(("money_conserved", f"saga {saga} was refunded ${t['refunded']} "
                                               f"but charged ${t['charged']}"))
            inconsistent = (t["charged"] > t["refunded"]
                            and t["order"] is not OrderStatus.APPROVED)
            if inconsistent and saga not in ghost.window_open:
                ghost.window_open[saga] = view.now
            elif not inconsistent and saga in ghost.window_open:
                ghost.windows.append((view.now - ghost.window_open.pop(saga)) / MS)
            if kind is StepUndone:
                done = ghost.compensation_order.setdefault(saga, [])
                if done and fact.step > done[-1]:
                    out.append(("reverse_order", f"saga {saga}: "
                                f"{STEPS[fact.step].compensation} ran after "
                                f"{STEPS[done[-1]].compensation}"))
                done.append(fact.step)
        return out

    def in_flight(self, view, saga: int) -> bool:
        """Still making progress as the run ends: the orchestrator is up and a fact about
        the saga came within the time one step may take with all its retries."""
        p = self.model.p
        step_budget = (p["max_retries"] + 2) * p["step_timeout_ms"] * MS
        return (view.alive(ORCHESTRATOR)
                and view.now - view.ghost.last_progress.get(saga, -step_budget) < step_budget)

    def check_final(self, view):
        out = []
        for saga, rec in view.nodes[ORCHESTRATOR].state.db.sagas.items():
            if self.in_flight(view, saga):
                continue
            t = truth(view, saga)
            problem = half_done(t)
            if problem:
                out.append(("saga_atomicity", f"saga {saga} is half-undone: {problem} "
                            f"(the orchestrator's log says {rec.phase.value})"))
            elif rec.phase not in (SagaPhase.COMPLETED, SagaPhase.COMPENSATED):
                out.append(("saga_atomicity", f"saga {saga} never finished: still "
                            f"{rec.phase.value} at {STEPS[rec.current].action}"))
            net = t["charged"] - t["refunded"]
            if net > 0 and t["order"] is not OrderStatus.APPROVED:
                order = t["order"].value if t["order"] else "never created"
                out.append(("money_conserved", f"saga {saga}: ${net} charged and never "
                            f"refunded, but the order is {order}"))
        return out

    def metrics(self, view):
        ghost = view.ghost
        windows = summarize(ghost.windows)
        out = {name: view.counters.get(name, 0) for name in COUNTERS}  # zeros shown too
        out |= {"inconsistency_window_ms": windows,
                "open_inconsistency_windows": len(ghost.window_open)}
        for key in ("p50", "p99", "max"):
            out[f"inconsistency_window_{key}_ms"] = windows.get(key, 0)
        out["sagas_half_done"] = sum(1 for saga in view.nodes[ORCHESTRATOR].state.db.sagas
                                     if half_done(truth(view, saga)))
        return out
