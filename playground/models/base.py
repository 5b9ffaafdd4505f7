"""The model kit: what a protocol model is, what the engine hands it, and how one is written.

Theory of operation
-------------------
A model is a sans-IO description of one protocol. It owns no clock, no randomness
and no network: the engine (``playground.engine.simulation``) owns all three and calls
the model's handlers one event at a time. This module is the whole interface between
the two: a model imports nothing from ``playground.engine``, and the engine reads a
model only through the hooks of :class:`Model`.

* **Roles.** A model's nodes are of one or more kinds (Raft's servers, its client and its
  storage). Each kind is a :class:`Role`: the class of its per-node state, and its
  handlers, declared with :func:`on` (a message class), :func:`timer` (a timer kind) and
  :func:`command` (a client command type). ``Model.roles`` lists them and
  ``Model.role_of`` says which one a node id plays. The kit builds one dispatch table per
  role from the declarations: a message, timer or command that the receiving role
  declares no handler for raises :class:`UnexpectedEvent`, so nothing is dropped quietly.
* **Per-node state is plain data**: a mutable ``@dataclass(slots=True)`` holding only
  picklable values: ints, strings, tuples, lists, dicts, enums, frozen dataclasses. No
  sets whose iteration order matters, no ``id()``/``hash()``-dependent values: the engine
  pickles states for time travel and the trace must be identical in every process.
* **Handlers** receive the node's state, the event and a :class:`Context`, mutate the state
  in place and act only through the context: ``send``, ``set_timer``, ``cancel_timer``,
  ``tell``, ``note``, ``count``, ``observe``. A handler is atomic: nothing else happens in
  between.
* **Messages** are frozen dataclasses (nouns: ``AppendEntries``, ``VoteCommit``); the engine
  names a message by its class name. Dispatch is on the class, never on strings.
* **Timers** are :class:`Timer` names made from a kind (a member of the model's ``Enum`` of
  timer kinds) and, for timers that exist once per request or transaction, an argument:
  ``Timer(RaftTimer.RETRY, 12)``. The handler gets the timer back and reads ``.arg``; no
  name is ever parsed.
* **Facts** (:class:`Fact`) are what a handler tells the checker: typed, past-tense
  records (``BecameLeader``, ``Charged``, ``Compensated``) sent with ``ctx.tell``. The
  engine records each in the trace (so an independent checker can judge a run from the
  trace alone, and ``trace.json`` exports them) and hands the facts of the current event
  to ``check`` as ``view.facts``. It is the one channel from handlers to the checker.
* **Crash and restart**: when a node crashes the engine rebuilds its state with
  ``init_node`` and copies back the fields its role names in ``durable``; everything else
  is lost. A restart then calls ``on_start`` on that state, so recovery logic reads the
  durable fields (a coordinator's decision log, a Raft log).
* **Ghost state** (``ctx.ghost``, ``init_ghost``) is an omniscient observer's notebook, for
  invariants and metrics only. Protocol decisions must never read it; handlers reach the
  checker through facts, not by writing the ghost.
* **Checking and display** read the run through a :class:`View` (read-only: node states,
  status, clocks, links, counters, the facts of the last event). A model may put them in
  a :class:`Checker` and a :class:`Display` of their own (``Model.Checker``,
  ``Model.Display``), each in its own module. Invariants are named (:class:`Invariant`)
  and checked by ``check`` after every event, with the id of the node that just changed,
  so a check can look at that node alone (incremental). ``check_final`` runs at the end
  of a run for "eventually" properties. Each returns ``(invariant_name, detail)`` pairs;
  the detail is a sentence a student can read, and names the specific term, index,
  transaction or key, so the engine can report each distinct violation once.
* **Variants** are switches that change or deliberately break the protocol; **params** are
  tunables with defaults; **commands** are the client requests a user can inject, each with
  a JSON schema for its fields; **node actions** offer some of them in a node's menu.

Times are integers in microseconds everywhere (``MS``, ``SECOND`` below).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any, Callable, ClassVar, Iterable, Protocol

from .fsm import IllegalTransition, Transitions  # noqa: F401  (the kit's state machines)

MS = 1_000
SECOND = 1_000_000


# -- declarations ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Invariant:
    """A named safety property and the sentence that explains it."""

    name: str
    description: str


@dataclass(frozen=True, slots=True)
class Variant:
    """A switch on the protocol; ``broken`` marks a setting that deliberately breaks it."""

    name: str
    default: Any
    description: str
    choices: tuple = (False, True)
    broken: tuple = ()  # the values that break the protocol, if any


@dataclass(frozen=True, slots=True)
class Param:
    """A tunable with its default and the JSON schema its values must satisfy."""

    name: str
    default: Any
    description: str
    schema: dict


@dataclass(frozen=True, slots=True)
class NodeAction:
    """A client command offered in a node's menu (RaftScope's "time out", "request").

    The browser fills the command's ``node`` field with the node's id and sends it like
    any other command, so it is recorded, replayed and shared like one. ``roles`` names
    the roles (``Role.name``) whose nodes offer it; empty: every node.
    """

    command: str  # a key of Model.commands
    label: str
    roles: tuple = ()


class Status(StrEnum):
    """A node's condition. Members survive pickling as themselves, so ``is`` is safe."""

    ALIVE = "alive"
    CRASHED = "crashed"
    PAUSED = "paused"


# -- what handlers see and do -------------------------------------------------------------------
class Timer(str):
    """A timer's name: the string the engine keys it by and the trace records, made from a
    kind (a member of the model's ``Enum`` of timer kinds, whose value is the name) and an
    optional argument (a request id, a transaction). Handlers dispatch on ``kind`` and read
    ``arg``; nothing parses the string."""

    def __new__(cls, kind: Enum, arg=None):
        self = super().__new__(cls, kind.value if arg is None else f"{kind.value}{arg}")
        self.kind = kind
        self.arg = arg
        return self

    def __reduce__(self):
        return Timer, (self.kind, self.arg)


@dataclass(frozen=True, slots=True)
class Fact:
    """Something that happened, told by a handler to the checker (``ctx.tell``).

    Subclasses are frozen dataclasses named in the past tense; ``text`` is a template over
    their fields for the event log (``"became leader of term {term}"``).
    """

    text: ClassVar[str] = ""

    def describe(self) -> str:
        if not self.text:
            return type(self).__name__
        return self.text.format_map({name: getattr(self, name)
                                     for name in self.__dataclass_fields__})


class Stream(Protocol):
    """A deterministic random stream (see ``playground.engine.rng``)."""

    def random(self) -> float: ...
    def randint(self, a: int, b: int) -> int: ...
    def choice(self, seq): ...


class Context(Protocol):
    """What a handler may read and do. The engine provides one implementation."""

    node: str  # the id of the node whose handler runs
    peers: tuple  # the other nodes of the same model-defined group (see Model.peers_of)
    params: dict  # resolved parameters
    variant: dict  # resolved variant switches
    ghost: Any  # observer state: for invariants and metrics only
    rng: Stream  # this node's own random stream
    now: int  # this node's local clock reading in µs (offset + rate × true time)

    def send(self, to: str, msg: Any) -> None:
        """Put a message on the network; the engine decides latency, loss and cuts."""

    def set_timer(self, name: str, delay: int) -> None:
        """(Re)arm the timer ``name`` (a :class:`Timer`) to fire after ``delay`` µs of this
        node's clock."""

    def cancel_timer(self, name: str) -> None:
        """Disarm the timer ``name`` if armed."""

    def timer_armed(self, name: str) -> bool:
        """Whether the timer ``name`` is armed."""

    def tell(self, fact: Fact) -> None:
        """Record a fact in the trace and hand it to the checker after this event."""

    def note(self, text: str, **fields) -> None:
        """Record a remark for the event log (narration, not a fact the checker needs)."""

    def count(self, metric: str, n: int = 1) -> None:
        """Add ``n`` to a counter metric."""

    def observe(self, metric: str, value: float) -> None:
        """Record one sample of a distribution metric (e.g. a latency in ms)."""


# -- what checkers and displays see ------------------------------------------------------------
class NodeView(Protocol):
    """One node, read-only."""

    id: str
    status: Status
    state: Any  # the model's per-node state
    offset: int  # µs: the clock reads offset + rate × true time / 10⁶
    rate: int  # parts per million of true speed

    def local(self, true_time: int) -> int:
        """This node's clock reading at true time ``true_time``."""

    def true_at(self, local_time: int) -> int:
        """The earliest true time at which this node's clock reads ``local_time``."""


class View(Protocol):
    """A run, read-only, as checkers, metrics and panels see it."""

    now: int  # true time, µs
    node_ids: tuple
    nodes: dict  # id -> NodeView
    ghost: Any
    counters: dict  # the ctx.count totals
    samples: dict  # the ctx.observe samples
    facts: list  # the facts told by the event just handled
    cuts: dict  # (src, dst) -> True for each cut directed link
    groups: dict | None  # the partition: node -> group, or None

    def local_time(self, nid: str) -> int: ...
    def alive(self, nid: str) -> bool: ...
    def is_cut(self, src: str, dst: str) -> bool: ...


# -- declaring handlers ---------------------------------------------------------------------------
class UnexpectedEvent(TypeError):
    """A message, timer or command that the receiving role declares no handler for."""


def on(*messages: type) -> Callable:
    """Declare a role's handler ``(self, state, msg, src, ctx)`` for these message classes."""
    return _declare("messages", messages)


def timer(*kinds: Enum) -> Callable:
    """Declare a role's handler ``(self, state, timer, ctx)`` for these timer kinds."""
    return _declare("timers", kinds)


def command(*types: str) -> Callable:
    """Declare a role's handler ``(self, state, command, ctx)`` for these client commands."""
    return _declare("commands", types)


def _declare(table: str, keys: tuple) -> Callable:
    def mark(fn):
        fn.__dict__.setdefault("_handles", []).append((table, keys))
        return fn
    return mark


class Role:
    """One kind of node: its state class, its durable fields and its handlers.

    A model builds one instance of each of its roles, with the model as ``self.model``
    (parameters are read there, once); a role's ``start`` runs at time 0 and on every
    restart."""

    name: ClassVar[str] = ""
    State: ClassVar[type] = type(None)
    durable: ClassVar[tuple[str, ...]] = ()  # state fields that survive a crash
    helper: ClassVar[bool] = False  # stands apart from the protocol's group (a client, a store)

    def __init__(self, model: "Model"):
        self.model = model
        self.messages: dict[type, Callable] = {}
        self.timers: dict[Enum, Callable] = {}
        self.commands: dict[str, Callable] = {}
        for klass in reversed(type(self).__mro__):
            for attr, fn in vars(klass).items():
                for table, keys in getattr(fn, "_handles", ()):
                    bound = getattr(self, attr)
                    for key in keys:
                        getattr(self, table)[key] = bound

    def start(self, state, ctx: Context) -> None:
        """At time 0 and on every restart (after the durable fields are restored)."""

    def label(self, state) -> str:
        """A short role or phase label for display (default: the role's name)."""
        return self.name

    def summary(self, node_id: str, state) -> dict:
        """A compact JSON-ready summary of one node's state for the UI."""
        return {}


class Checker:
    """The invariants and metrics of a model, reading the run through a :class:`View`."""

    def __init__(self, model: "Model"):
        self.model = model
        self.p, self.v = model.p, model.v

    def check(self, view: View, node_id: str | None) -> Iterable[tuple[str, str]]:
        """Invariant violations after an event on ``node_id`` (None: anything changed)."""
        return ()

    def check_final(self, view: View) -> Iterable[tuple[str, str]]:
        """Violations of 'eventually' properties, checked when a run ends."""
        return ()

    def metrics(self, view: View) -> dict:
        """Metrics derived from states and ghost, merged over the engine's counters."""
        return {}


class Display:
    """The model-wide data of the UI's side panel."""

    def __init__(self, model: "Model"):
        self.model = model
        self.p, self.v = model.p, model.v

    def panel(self, view: View) -> dict:
        """Model-wide JSON-ready data for the UI panel (stores, ledgers, ghost facts)."""
        return {}


# -- the model -----------------------------------------------------------------------------------
class Model:
    """A protocol: its declarations, its roles, its checker and its display.

    Subclasses fill in the class attributes. A model written with the kit lists its
    ``roles`` and, usually, a ``Checker`` and a ``Display`` class; the kit then provides
    every hook the engine calls. A model may instead override the hooks themselves (the
    engine's tests do, with a one-role toy).
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    invariants: ClassVar[tuple[Invariant, ...]] = ()
    variants: ClassVar[tuple[Variant, ...]] = ()
    params: ClassVar[tuple[Param, ...]] = ()
    commands: ClassVar[dict[str, dict]] = {}  # client command type -> JSON schema (object)
    node_actions: ClassVar[tuple[NodeAction, ...]] = ()
    addressable_roles: ClassVar[tuple[str, ...]] = ()  # roles a fault may aim at
    roles: ClassVar[tuple[type[Role], ...]] = ()
    Checker: ClassVar[type[Checker]] = Checker
    Display: ClassVar[type[Display]] = Display
    durable: tuple[str, ...] = ()  # the roles' durable fields (set from them)
    default_nodes: ClassVar[int] = 3
    min_nodes: ClassVar[int] = 1
    max_nodes: ClassVar[int] = 101

    def __init__(self, nodes: int, params: dict, variant: dict):
        self.n = nodes
        self.p = {prm.name: prm.default for prm in type(self).params} | dict(params)
        self.v = {var.name: var.default for var in type(self).variants} | dict(variant)
        self.setup()
        self.role_objects = {cls.name: cls(self) for cls in self.roles}
        self._by_state = {type(r).State: r for r in self.role_objects.values()}
        if self.roles:
            self.durable = tuple(dict.fromkeys(f for r in self.roles for f in r.durable))
        self.checker = self.Checker(self)
        self.display = self.Display(self)
        cls = type(self)  # bind the hooks a model leaves to its checker and display directly:
        for hook, owner in (("check", self.checker), ("check_final", self.checker),
                            ("metrics", self.checker), ("panel", self.display)):
            if getattr(cls, hook) is getattr(Model, hook):  # check runs after every event
                setattr(self, hook, getattr(owner, hook))

    def setup(self) -> None:
        """Derive what the roles read from ``self.p`` and ``self.v`` (runs before them)."""

    # -- the cluster -------------------------------------------------------------------
    def node_ids(self) -> list[str]:
        """Every node the engine simulates, in display order (servers, clients, stores)."""
        return [f"n{i}" for i in range(1, self.n + 1)]

    def role_of(self, node_id: str) -> str:
        """The name of the role ``node_id`` plays (default: the first role; "" in a model
        that declares none)."""
        return self.roles[0].name if self.roles else ""

    def is_helper(self, node_id: str) -> bool:
        """Whether ``node_id`` stands apart from the protocol's group (a client, a store)."""
        return bool(self.roles) and self.role_objects[self.role_of(node_id)].helper

    def peers_of(self, node_id: str, all_ids: tuple) -> tuple:
        """The nodes ``node_id`` talks to as ``ctx.peers`` (default: all others)."""
        return tuple(x for x in all_ids if x != node_id)

    def init_node(self, node_id: str) -> Any:
        return type(self.role_objects[self.role_of(node_id)]).State()

    def init_ghost(self) -> Any:
        return None

    # -- handlers: the engine calls these; the kit dispatches to the roles ----------------
    def on_start(self, state, ctx: Context) -> None:
        """Called at time 0 and on every restart (after durable fields are restored)."""
        self._by_state[type(state)].start(state, ctx)

    def on_message(self, state, msg, src: str, ctx: Context) -> None:
        """A message from ``src`` arrived."""
        role = self._by_state[type(state)]
        handler = role.messages.get(type(msg))
        if handler is None:
            raise UnexpectedEvent(f"{self.name}: a {role.name} has no handler for "
                                  f"{type(msg).__name__} (from {src})")
        handler(state, msg, src, ctx)

    def on_timer(self, state, name: Timer, ctx: Context) -> None:
        """The timer ``name`` fired."""
        role = self._by_state[type(state)]
        handler = role.timers.get(getattr(name, "kind", None))
        if handler is None:
            raise UnexpectedEvent(f"{self.name}: a {role.name} has no handler for timer "
                                  f"{name!r}")
        handler(state, name, ctx)

    def on_command(self, state, command: dict, ctx: Context) -> None:
        """A client command (one of ``commands``) addressed to this node."""
        role = self._by_state[type(state)]
        handler = role.commands.get(command["type"])
        if handler is None:
            raise UnexpectedEvent(f"{self.name}: a {role.name} has no handler for command "
                                  f"{command['type']!r}")
        handler(state, command, ctx)

    def assumes(self) -> dict[str, tuple[str, ...]]:
        """For each invariant that the protocol promises only while some faults stay away,
        the fault types that void the promise (a lease assumes clocks that keep time).
        The soak does not count a violation of it in a run with such a fault; everything
        else it judges under every fault. Documented in the model's theory of operation."""
        return {}

    def resolve_role(self, view: View, role: str) -> str | None:
        """The node that plays ``role`` (one of ``addressable_roles``) now, or None: what a
        fault aimed at a role hits (``{"type": "crash", "node": {"role": "leader"}}``)."""
        return None

    def command_target(self, command: dict, view: View) -> str:
        """Which node receives a client command (default: its ``node`` field)."""
        return command["node"]

    # -- checking and display: by default the model's Checker and Display ------------
    def check(self, view: View, node_id: str | None) -> Iterable[tuple[str, str]]:
        """Invariant violations after an event on ``node_id`` (None: anything changed)."""
        return self.checker.check(view, node_id)

    def check_final(self, view: View) -> Iterable[tuple[str, str]]:
        """Violations of 'eventually' properties, checked when a run ends."""
        return self.checker.check_final(view)

    def metrics(self, view: View) -> dict:
        """Metrics derived from states and ghost, merged over the engine's counters."""
        return self.checker.metrics(view)

    def panel(self, view: View) -> dict:
        """Model-wide JSON-ready data for the UI panel."""
        return self.display.panel(view)

    def role(self, state) -> str:
        """A short role or phase label for display (e.g. 'leader', 'prepared')."""
        return self._by_state[type(state)].label(state)

    def summary(self, node_id: str, state) -> dict:
        """A compact JSON-ready summary of one node's state for the UI."""
        return self._by_state[type(state)].summary(node_id, state)
