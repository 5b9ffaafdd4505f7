"""An orchestrated Saga: local transactions, compensations in reverse order, retries.

Theory of operation
-------------------
One business action, "buy an item", spans four services, each with its own local
database: ``order``, ``payment``, ``inventory`` and ``shipping``. There is no distributed
transaction. An ``orchestrator`` runs each purchase as a *saga*: a fixed sequence of local
transactions (steps), each with a *compensating* transaction that semantically undoes it::

    step                  service     compensation
    0 create_order        order       cancel_order
    1 charge ($100)       payment     refund ($100)
    2 reserve_item        inventory   release_item
    3 schedule_shipping   shipping    cancel_shipping
    4 approve_order       order       (none: after the last compensatable step the saga
                                       can only go forward, so this is retried forever)

* **Forward**: the orchestrator sends ``StepRequest`` for step *k* and waits for a
  ``StepReply``. A service rejects a step by business rule (card declined, out of stock,
  address undeliverable): from the purchase's data (the ``buy`` command's ``reject_at``)
  or at random (``reject_probability``), or because the item's ``stock`` ran out.
* **Timeouts and retries**: no reply within ``step_timeout_ms`` (the service crashed, is
  paused or cut off, or a message was lost) → resend, up to ``max_retries`` times. Then
  the step counts as failed; because it may have run without the reply getting back, its
  own compensation is run first.
* **Backward**: after step *k* fails the orchestrator sends ``Compensate`` for the steps
  that ran, in reverse order *k−1 … 0*, one at a time, waiting for ``Compensated`` before the
  next. A compensation is retried until it is acknowledged: a saga that started must end.
* **Idempotence at the services**: retries and network duplicates mean a service sees the
  same request more than once. Every service keeps ``processed``, keyed by the
  ``idempotency_key`` "saga:step", and answers a repeat with the stored outcome. A
  compensation for a step that never ran leaves a tombstone, so a late duplicate of the
  step is refused instead of running after its own undo.
* **Durability**: every service database and the orchestrator's saga log are durable
  (field ``db``); the orchestrator writes the log before it sends, and on restart resumes
  every unfinished saga where the log says it was.

The observer is the ghost: every time a payment or order row changes, ``check`` samples
the true state at true time and tracks, per saga, the *inconsistency window* during
which a user would see "money taken, order not confirmed" (from the charge until the
order is approved or the refund is made). That gap is the isolation a saga gives up
(claim C09).

Simplifications: one orchestrator; one purchase of one item for $100 per saga; the
customer's balance is not limited; local transactions are atomic handlers.

Invariants
----------
* ``saga_atomicity`` (end of run): every saga is fully completed (order approved, paid,
  item reserved, shipping scheduled) or fully compensated (nothing left at any service),
  judged from the services' databases, not from the orchestrator's log.
* ``money_conserved`` (every event, and at the end): a saga is charged at most once and
  refunded at most what it was charged; at the end every charge has either an approved
  order or a refund.
* ``reverse_order`` (every event): compensations take effect in reverse step order.

Variant ``no_compensation_retry`` (broken) sends each compensation once: when it times
out (service crashed or cut off) or the orchestrator restarts during compensation, the
orchestrator writes it off and moves on, so the saga is logged as compensated while a
service still holds its effect; ``saga_atomicity`` and ``money_conserved`` say which.

Claims: C08 (compensation in reverse order), C09 (the inconsistency window, measured).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from ..stats import summarize
from . import register
from .base import MS, Invariant, Model, Param, Variant
from .fsm import Transitions

ORCHESTRATOR = "orchestrator"
SERVICES = ("order", "payment", "inventory", "shipping")
PRICE = 100  # dollars per purchase


@dataclass(frozen=True, slots=True)
class SagaStep:
    """One local transaction of the saga and the compensation that undoes it."""

    action: str
    service: str
    compensation: str | None
    rejectable: bool  # a business rule at the service may refuse it


STEPS = (
    SagaStep("create_order", "order", "cancel_order", False),
    SagaStep("charge", "payment", "refund", True),
    SagaStep("reserve_item", "inventory", "release_item", True),
    SagaStep("schedule_shipping", "shipping", "cancel_shipping", True),
    SagaStep("approve_order", "order", None, False),
)
LAST = len(STEPS) - 1
REJECTABLE = tuple(s.action for s in STEPS if s.rejectable)
COUNTERS = ("sagas_started", "sagas_completed", "sagas_compensated", "compensations_run",
            "retries", "steps_rejected", "steps_timed_out", "compensations_given_up",
            "duplicate_requests")
REJECT_REASON = {"charge": "card declined", "reserve_item": "out of stock",
                 "schedule_shipping": "address undeliverable"}


# -- phases ------------------------------------------------------------------------------
class SagaPhase(Enum):
    RUNNING = "running"
    COMPENSATING = "compensating"
    COMPLETED = "completed"
    COMPENSATED = "compensated"


class StepStatus(Enum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    REJECTED = "rejected"
    COMPENSATING = "compensating"
    COMPENSATED = "compensated"
    GIVEN_UP = "given up"  # broken variant: compensation sent once, then written off


class Outcome(Enum):
    """What a service recorded under an idempotency key."""

    APPLIED = "applied"
    REJECTED = "rejected"
    COMPENSATED = "compensated"  # undone, or a tombstone if the step never ran


class OrderStatus(Enum):
    PENDING = "pending"
    APPROVED = "approved"
    CANCELLED = "cancelled"


SAGA_MOVES = Transitions("saga", {
    SagaPhase.RUNNING: (SagaPhase.COMPENSATING, SagaPhase.COMPLETED),
    SagaPhase.COMPENSATING: (SagaPhase.COMPENSATED,),
})
STEP_MOVES = Transitions("saga step", {
    StepStatus.PENDING: (StepStatus.RUNNING,),
    # RUNNING -> COMPENSATING: the step timed out and may have run, so it is undone too.
    StepStatus.RUNNING: (StepStatus.DONE, StepStatus.REJECTED, StepStatus.COMPENSATING),
    StepStatus.DONE: (StepStatus.COMPENSATING,),
    StepStatus.COMPENSATING: (StepStatus.COMPENSATED, StepStatus.GIVEN_UP),
})
ORDER_MOVES = Transitions("order row", {
    OrderStatus.PENDING: (OrderStatus.APPROVED, OrderStatus.CANCELLED),
})


# -- messages ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StepRequest:
    saga: int
    step: int
    action: str
    amount: int
    reject: bool  # the purchase's data make this step fail its business rule


@dataclass(frozen=True, slots=True)
class StepReply:
    saga: int
    step: int
    ok: bool
    reason: str


@dataclass(frozen=True, slots=True)
class Compensate:
    saga: int
    step: int
    action: str


@dataclass(frozen=True, slots=True)
class Compensated:
    saga: int
    step: int


# -- state -------------------------------------------------------------------------------
@dataclass(slots=True)
class SagaRecord:
    """One saga in the orchestrator's durable log."""

    saga: int
    phase: SagaPhase = SagaPhase.RUNNING
    steps: list = field(default_factory=lambda: [StepStatus.PENDING] * len(STEPS))
    current: int = 0  # the step running, or being compensated
    attempts: int = 0  # sends of the current request
    reject_at: str | None = None
    reason: str = ""


@dataclass(slots=True)
class SagaLog:
    sagas: dict = field(default_factory=dict)  # saga id -> SagaRecord
    started: int = 0


@dataclass(slots=True)
class OrchestratorState:
    db: SagaLog = field(default_factory=SagaLog)


@dataclass(slots=True)
class ServiceDB:
    """A service's local database; each service uses its own tables."""

    processed: dict = field(default_factory=dict)  # idempotency_key -> Outcome
    orders: dict = field(default_factory=dict)  # saga -> OrderStatus          (order)
    charged: dict = field(default_factory=dict)  # saga -> dollars charged      (payment)
    refunded: dict = field(default_factory=dict)  # saga -> dollars refunded    (payment)
    stock: int = 0  # items on the shelf                                        (inventory)
    reserved: dict = field(default_factory=dict)  # saga -> items held          (inventory)
    shipments: dict = field(default_factory=dict)  # saga -> "scheduled"/"cancelled"


@dataclass(slots=True)
class ServiceState:
    service: str
    db: ServiceDB = field(default_factory=ServiceDB)


@dataclass(slots=True)
class SagaGhost:
    """The observer's notebook: facts from handlers, stamped with true time by ``check``."""

    dirty: list = field(default_factory=list)  # (saga, compensated step or -1)
    window_open: dict = field(default_factory=dict)  # saga -> true µs the window opened
    windows: list = field(default_factory=list)  # closed windows, ms
    compensation_order: dict = field(default_factory=dict)  # saga -> steps undone, in order


def idempotency_key(saga: int, step: int) -> str:
    return f"{saga}:{step}"


@register
class Saga(Model):
    name = "saga"
    title = "Saga: local transactions with compensations"
    invariants = (
        Invariant("saga_atomicity", "At the end every saga is fully completed or fully "
                  "compensated at every service."),
        Invariant("money_conserved", "A saga is charged at most once and refunded at most "
                  "what it paid; every charge ends with an approved order or a refund."),
        Invariant("reverse_order", "Compensations take effect in reverse step order."),
    )
    variants = (
        Variant("no_compensation_retry", False, "Send each compensation once and write it "
                "off when it times out or the orchestrator restarts.", broken=(True,)),
    )
    params = (
        Param("sagas", 6, "Purchases the orchestrator starts by itself.",
              {"type": "integer", "minimum": 0, "maximum": 200}),
        Param("start_interval_ms", 300, "Time between automatic purchases.",
              {"type": "number", "minimum": 1}),
        Param("reject_probability", 0.2, "Chance that a service's business rule rejects a "
              "rejectable step (charge, reserve_item, schedule_shipping).",
              {"type": "number", "minimum": 0, "maximum": 1}),
        Param("stock", 100, "Items in the inventory at the start.",
              {"type": "integer", "minimum": 0}),
        Param("step_timeout_ms", 150, "How long the orchestrator waits for a reply.",
              {"type": "number", "minimum": 1}),
        Param("max_retries", 3, "Resends of a forward step before it counts as failed.",
              {"type": "integer", "minimum": 0, "maximum": 100}),
    )
    commands = {
        "buy": {"properties": {"reject_at": {"enum": list(REJECTABLE)}}},
    }
    durable = ("db",)
    default_nodes = 5
    min_nodes = 5
    max_nodes = 5

    # -- the cluster -----------------------------------------------------------------------
    def node_ids(self):
        return [ORCHESTRATOR, *SERVICES]

    def init_node(self, node_id):
        if node_id == ORCHESTRATOR:
            return OrchestratorState()
        state = ServiceState(node_id)
        state.db.stock = self.p["stock"] if node_id == "inventory" else 0
        return state

    def init_ghost(self):
        return SagaGhost()

    def command_target(self, command, view):
        return ORCHESTRATOR

    # -- handlers --------------------------------------------------------------------------
    def on_start(self, state, ctx):
        """Start the workload; after a restart, resume every unfinished saga from the log."""
        if type(state) is not OrchestratorState:
            return
        log = state.db
        if log.started < self.p["sagas"]:
            ctx.set_timer("workload", int(self.p["start_interval_ms"] * MS))
        for rec in log.sagas.values():
            if rec.phase is SagaPhase.RUNNING:
                ctx.note(f"saga {rec.saga}: resumed at step {STEPS[rec.current].action}")
                self._send_step(rec, ctx)
            elif rec.phase is SagaPhase.COMPENSATING:
                if self.v["no_compensation_retry"]:
                    self._give_up(rec, ctx)
                else:
                    ctx.note(f"saga {rec.saga}: resumed compensating "
                             f"{STEPS[rec.current].action}")
                    self._send_compensate(rec, ctx)

    def on_command(self, state, command, ctx):
        """``buy``: start one purchase now (optionally doomed to fail at a step)."""
        self._start_saga(state, ctx, command.get("reject_at"))

    def on_timer(self, state, name, ctx):
        """The workload clock, or a saga's reply timeout."""
        if name == "workload":
            self._start_saga(state, ctx, None)
            if state.db.started < self.p["sagas"]:
                ctx.set_timer("workload", int(self.p["start_interval_ms"] * MS))
            return
        rec = state.db.sagas[int(name.split(":")[1])]
        if rec.phase is SagaPhase.RUNNING:
            self._step_timed_out(rec, ctx)
        elif rec.phase is SagaPhase.COMPENSATING:
            if self.v["no_compensation_retry"]:
                self._give_up(rec, ctx)
            else:
                ctx.count("retries")
                ctx.note(f"saga {rec.saga}: no answer to {STEPS[rec.current].compensation}; "
                         "retrying")
                self._send_compensate(rec, ctx)

    def on_message(self, state, msg, src, ctx):
        kind = type(msg)
        if kind is StepRequest:
            self._on_step_request(state, msg, src, ctx)
        elif kind is Compensate:
            self._on_compensate(state, msg, src, ctx)
        elif kind is StepReply:
            self._on_step_reply(state, msg, ctx)
        elif kind is Compensated:
            self._on_compensated(state, msg, ctx)

    # -- orchestrator ----------------------------------------------------------------------
    def _start_saga(self, state, ctx, reject_at):
        log = state.db
        log.started += 1
        rec = SagaRecord(log.started, reject_at=reject_at)
        log.sagas[rec.saga] = rec
        ctx.count("sagas_started")
        ctx.note(f"saga {rec.saga}: started" + (f" (will fail at {reject_at})"
                                                 if reject_at else ""))
        rec.steps[0] = STEP_MOVES.move(rec.steps[0], StepStatus.RUNNING)
        self._send_step(rec, ctx)

    def _send_step(self, rec, ctx):
        step = STEPS[rec.current]
        rec.attempts += 1
        ctx.send(step.service, StepRequest(rec.saga, rec.current, step.action, PRICE,
                                           rec.reject_at == step.action))
        ctx.set_timer(f"saga:{rec.saga}", int(self.p["step_timeout_ms"] * MS))

    def _send_compensate(self, rec, ctx):
        step = STEPS[rec.current]
        rec.attempts += 1
        ctx.send(step.service, Compensate(rec.saga, rec.current, step.compensation))
        ctx.set_timer(f"saga:{rec.saga}", int(self.p["step_timeout_ms"] * MS))

    def _step_timed_out(self, rec, ctx):
        """Resend the step, or after ``max_retries`` resends count it as failed."""
        if rec.current == LAST or rec.attempts <= self.p["max_retries"]:
            ctx.count("retries")
            ctx.note(f"saga {rec.saga}: no answer to {STEPS[rec.current].action}; retrying")
            self._send_step(rec, ctx)
            return
        step = STEPS[rec.current]
        ctx.count("steps_timed_out")
        rec.reason = f"{step.action} timed out after {rec.attempts} attempts"
        ctx.note(f"saga {rec.saga}: {rec.reason}; compensating")
        # It may have run with the reply lost: undo it first.
        rec.steps[rec.current] = STEP_MOVES.move(rec.steps[rec.current],
                                                 StepStatus.COMPENSATING)
        rec.phase = SAGA_MOVES.move(rec.phase, SagaPhase.COMPENSATING)
        rec.attempts = 0
        self._send_compensate(rec, ctx)

    def _on_step_reply(self, state, msg, ctx):
        rec = state.db.sagas.get(msg.saga)
        if (rec is None or rec.phase is not SagaPhase.RUNNING or msg.step != rec.current
                or rec.steps[msg.step] is not StepStatus.RUNNING):
            return  # a duplicate or a reply to a request already given up on
        ctx.cancel_timer(f"saga:{rec.saga}")
        if msg.ok:
            rec.steps[msg.step] = STEP_MOVES.move(rec.steps[msg.step], StepStatus.DONE)
            if msg.step == LAST:
                rec.phase = SAGA_MOVES.move(rec.phase, SagaPhase.COMPLETED)
                ctx.count("sagas_completed")
                ctx.note(f"saga {rec.saga}: completed")
                return
            rec.current += 1
            rec.attempts = 0
            rec.steps[rec.current] = STEP_MOVES.move(rec.steps[rec.current],
                                                     StepStatus.RUNNING)
            self._send_step(rec, ctx)
            return
        rec.steps[msg.step] = STEP_MOVES.move(rec.steps[msg.step], StepStatus.REJECTED)
        rec.phase = SAGA_MOVES.move(rec.phase, SagaPhase.COMPENSATING)
        rec.reason = f"{STEPS[msg.step].action} rejected: {msg.reason}"
        ctx.count("steps_rejected")
        ctx.note(f"saga {rec.saga}: {rec.reason}; compensating")
        self._compensate_next(rec, ctx)

    def _on_compensated(self, state, msg, ctx):
        rec = state.db.sagas.get(msg.saga)
        if (rec is None or rec.phase is not SagaPhase.COMPENSATING or msg.step != rec.current
                or rec.steps[msg.step] is not StepStatus.COMPENSATING):
            return  # a duplicate acknowledgement
        ctx.cancel_timer(f"saga:{rec.saga}")
        rec.steps[msg.step] = STEP_MOVES.move(rec.steps[msg.step], StepStatus.COMPENSATED)
        ctx.count("compensations_run")
        ctx.note(f"saga {rec.saga}: {STEPS[msg.step].compensation} done")
        self._compensate_next(rec, ctx)

    def _give_up(self, rec, ctx):
        """Broken variant: write the outstanding compensation off and move on."""
        rec.steps[rec.current] = STEP_MOVES.move(rec.steps[rec.current], StepStatus.GIVEN_UP)
        ctx.count("compensations_given_up")
        ctx.note(f"saga {rec.saga}: gave up on {STEPS[rec.current].compensation} "
                 "(not retried)")
        self._compensate_next(rec, ctx)

    def _compensate_next(self, rec, ctx):
        """Compensate the highest step that ran and is not undone yet, or finish."""
        for i in range(rec.current, -1, -1):
            status = rec.steps[i]
            if status is StepStatus.DONE or status is StepStatus.COMPENSATING:
                if status is StepStatus.DONE:
                    rec.steps[i] = STEP_MOVES.move(status, StepStatus.COMPENSATING)
                rec.current = i
                rec.attempts = 0
                self._send_compensate(rec, ctx)
                return
        ctx.cancel_timer(f"saga:{rec.saga}")
        rec.phase = SAGA_MOVES.move(rec.phase, SagaPhase.COMPENSATED)
        ctx.count("sagas_compensated")
        ctx.note(f"saga {rec.saga}: compensated ({rec.reason})")

    # -- services --------------------------------------------------------------------------
    def _on_step_request(self, state, msg, src, ctx):
        """Run the local transaction once per idempotency key; repeat the stored answer."""
        db = state.db
        key = idempotency_key(msg.saga, msg.step)
        outcome = db.processed.get(key)
        if outcome is None:
            reason = self._business_rule(state, msg, ctx)
            if reason:
                outcome = db.processed[key] = Outcome.REJECTED
                ctx.note(f"saga {msg.saga}: {msg.action} rejected ({reason})")
            else:
                self._apply(state, msg.saga, msg.action, ctx)
                outcome = db.processed[key] = Outcome.APPLIED
                ctx.note(f"saga {msg.saga}: {msg.action} committed")
        else:
            ctx.count("duplicate_requests")
        reason = {Outcome.APPLIED: "", Outcome.REJECTED: REJECT_REASON.get(msg.action, ""),
                  Outcome.COMPENSATED: "already compensated"}[outcome]
        ctx.send(src, StepReply(msg.saga, msg.step, outcome is Outcome.APPLIED, reason))

    def _business_rule(self, state, msg, ctx) -> str:
        """Why this step is refused ('' when it may run)."""
        if msg.action not in REJECTABLE:
            return ""
        if msg.action == "reserve_item" and state.db.stock <= 0:
            return "out of stock"
        if msg.reject or ctx.rng.random() < self.p["reject_probability"]:
            return REJECT_REASON[msg.action]
        return ""

    def _on_compensate(self, state, msg, src, ctx):
        """Undo a step once; a step that never ran gets a tombstone so it never will."""
        db = state.db
        key = idempotency_key(msg.saga, msg.step)
        outcome = db.processed.get(key)
        if outcome is Outcome.APPLIED:
            self._apply(state, msg.saga, msg.action, ctx)
            ctx.note(f"saga {msg.saga}: {msg.action} committed")
        elif outcome is None:
            ctx.note(f"saga {msg.saga}: {msg.action} for a step that never ran (tombstone)")
        else:
            ctx.count("duplicate_requests")
        if outcome is not Outcome.COMPENSATED and outcome is not Outcome.REJECTED:
            db.processed[key] = Outcome.COMPENSATED
            ctx.ghost.dirty.append((msg.saga, msg.step))
        ctx.send(src, Compensated(msg.saga, msg.step))

    def _apply(self, state, saga, action, ctx):
        """One local transaction on this service's tables."""
        db = state.db
        if action == "create_order":
            db.orders[saga] = OrderStatus.PENDING
        elif action == "approve_order":
            db.orders[saga] = ORDER_MOVES.move(db.orders[saga], OrderStatus.APPROVED)
        elif action == "cancel_order":
            db.orders[saga] = ORDER_MOVES.move(db.orders[saga], OrderStatus.CANCELLED)
        elif action == "charge":
            db.charged[saga] = db.charged.get(saga, 0) + PRICE
        elif action == "refund":
            db.refunded[saga] = db.refunded.get(saga, 0) + db.charged.get(saga, 0)
        elif action == "reserve_item":
            db.stock -= 1
            db.reserved[saga] = db.reserved.get(saga, 0) + 1
        elif action == "release_item":
            db.stock += 1
            db.reserved[saga] = db.reserved.get(saga, 0) - 1
        elif action == "schedule_shipping":
            db.shipments[saga] = "scheduled"
        elif action == "cancel_shipping":
            db.shipments[saga] = "cancelled"
        else:
            raise ValueError(f"unknown saga action {action!r}")
        ctx.ghost.dirty.append((saga, -1))

    # -- checking --------------------------------------------------------------------------
    def truth(self, view, saga: int) -> dict:
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

    def check(self, view, node_id):
        ghost = view.ghost
        if not ghost.dirty:
            return ()
        dirty, ghost.dirty = ghost.dirty, []
        out = []
        for saga, undone_step in dirty:
            t = self.truth(view, saga)
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
            if undone_step >= 0:
                done = ghost.compensation_order.setdefault(saga, [])
                if done and undone_step > done[-1]:
                    out.append(("reverse_order", f"saga {saga}: {STEPS[undone_step].compensation}"
                                f" ran after {STEPS[done[-1]].compensation}"))
                done.append(undone_step)
        return out

    def check_final(self, view):
        out = []
        for saga, rec in view.nodes[ORCHESTRATOR].state.db.sagas.items():
            t = self.truth(view, saga)
            problem = self._half_done(t)
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

    @staticmethod
    def _half_done(t: dict) -> str:
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

    def metrics(self, view):
        ghost = view.ghost
        windows = summarize(ghost.windows)
        out = {name: view.counters.get(name, 0) for name in COUNTERS}  # zeros shown too
        out |= {"inconsistency_window_ms": windows,
               "open_inconsistency_windows": len(ghost.window_open)}
        for key in ("p50", "p99", "max"):
            out[f"inconsistency_window_{key}_ms"] = windows.get(key, 0)
        half = 0
        for saga in view.nodes[ORCHESTRATOR].state.db.sagas:
            if self._half_done(self.truth(view, saga)):
                half += 1
        out["sagas_half_done"] = half
        return out

    # -- display ---------------------------------------------------------------------------
    def role(self, state):
        return ORCHESTRATOR if type(state) is OrchestratorState else state.service

    def summary(self, node_id, state):
        if type(state) is OrchestratorState:
            log = state.db
            return {"started": log.started,
                    "running": sum(1 for r in log.sagas.values()
                                   if r.phase in (SagaPhase.RUNNING, SagaPhase.COMPENSATING)),
                    "sagas": {str(s): _record_json(r)
                              for s, r in list(log.sagas.items())[-8:]}}
        return {"processed": len(state.db.processed), "table": _table_json(node_id, state.db)}

    def panel(self, view):
        log = view.nodes[ORCHESTRATOR].state.db
        ghost = view.ghost
        return {
            "steps": [{"action": s.action, "service": s.service,
                       "compensation": s.compensation} for s in STEPS],
            "sagas": [{**_record_json(r), "saga": s, "truth": _truth_json(self.truth(view, s)),
                       "inconsistent_since_us": ghost.window_open.get(s)}
                      for s, r in log.sagas.items()],
            "tables": {svc: _table_json(svc, view.nodes[svc].state.db) for svc in SERVICES},
            "inconsistency_windows_ms": list(ghost.windows),
        }


def _record_json(rec: SagaRecord) -> dict:
    return {"phase": rec.phase.value, "current": rec.current, "attempts": rec.attempts,
            "steps": [s.value for s in rec.steps], "reason": rec.reason,
            "reject_at": rec.reject_at}


def _truth_json(t: dict) -> dict:
    return {**t, "order": t["order"].value if t["order"] else None}


def _table_json(service: str, db: ServiceDB) -> dict:
    if service == "order":
        return {str(s): st.value for s, st in db.orders.items()}
    if service == "payment":
        return {str(s): {"charged": c, "refunded": db.refunded.get(s, 0)}
                for s, c in db.charged.items()}
    if service == "inventory":
        return {"stock": db.stock, "reserved": {str(s): n for s, n in db.reserved.items()}}
    return {str(s): v for s, v in db.shipments.items()}
