"""The model interface: what a protocol model is, and what the engine hands it.

Theory of operation
-------------------
A model is a sans-IO description of one protocol. It owns no clock, no randomness
and no network: the engine (``playground.engine.simulation``) owns all three and calls
the model's handlers one event at a time.

* **Per-node state is plain data**: ``init_node`` returns a mutable object (usually a
  ``@dataclass(slots=True)``) holding only picklable values: ints, strings, tuples,
  lists, dicts, enums, frozen dataclasses. No sets whose iteration order matters, no
  ``id()``/``hash()``-dependent values: the engine pickles states for time travel and the
  trace must be identical in every process.
* **Handlers** are ``on_start``, ``on_message``, ``on_timer`` and ``on_command``. Each
  receives the node's state, the event and a :class:`Context`, mutates the state in place
  and acts only through the context: ``send``, ``set_timer``, ``cancel_timer``, ``note``,
  ``count``, ``observe``. A handler is atomic: nothing else happens in between.
* **Messages** are frozen dataclasses (nouns: ``AppendEntries``, ``VoteCommit``); the engine
  names a message by its class name. Models dispatch on the class, never on strings.
* **Crash and restart**: when a node crashes the engine rebuilds its state with
  ``init_node`` and copies back the fields named in ``durable``; everything else is lost.
  A restart then calls ``on_start`` on that state, so recovery logic reads the durable
  fields (a coordinator's decision log, a Raft log).
* **Ghost state** (``ctx.ghost``, ``init_ghost``) is an omniscient observer's notebook, for
  invariants and metrics only: the outcomes of client requests, who was leader in which
  term. Protocol decisions must never read it.
* **Invariants** are named (:class:`Invariant`) and checked by ``check`` after every event,
  with the id of the node that just changed, so a check can look at that node alone
  (incremental). ``check_final`` runs at the end of a run for "eventually" properties.
  Each returns ``(invariant_name, detail)`` pairs; the detail is a sentence a student can
  read, and names the specific term, index, transaction or key, so the engine can report
  each distinct violation once.
* **Variants** are switches that change or deliberately break the protocol; **params** are
  tunables with defaults; **commands** are the client requests a user can inject, each with
  a JSON schema for its fields.

Times are integers in microseconds everywhere (``MS``, ``SECOND`` below).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Iterable, Protocol

MS = 1_000
SECOND = 1_000_000


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

    @property
    def now(self) -> int:
        """This node's local clock reading in µs (offset + rate × true time)."""

    def send(self, to: str, msg: Any) -> None:
        """Put a message on the network; the engine decides latency, loss and cuts."""

    def set_timer(self, name: str, delay: int) -> None:
        """(Re)arm the timer ``name`` to fire after ``delay`` µs of this node's clock."""

    def cancel_timer(self, name: str) -> None:
        """Disarm the timer ``name`` if armed."""

    def timer_armed(self, name: str) -> bool:
        """Whether the timer ``name`` is armed."""

    def note(self, text: str, **fields) -> None:
        """Record a state change or remark in the trace (e.g. 'became leader')."""

    def count(self, metric: str, n: int = 1) -> None:
        """Add ``n`` to a counter metric."""

    def observe(self, metric: str, value: float) -> None:
        """Record one sample of a distribution metric (e.g. a latency in ms)."""


class Model:
    """Base class for protocol models; subclasses fill in the class attributes and handlers."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    invariants: ClassVar[tuple[Invariant, ...]] = ()
    variants: ClassVar[tuple[Variant, ...]] = ()
    params: ClassVar[tuple[Param, ...]] = ()
    commands: ClassVar[dict[str, dict]] = {}  # client command type -> JSON schema (object)
    durable: ClassVar[tuple[str, ...]] = ()
    default_nodes: ClassVar[int] = 3
    min_nodes: ClassVar[int] = 1
    max_nodes: ClassVar[int] = 101

    def __init__(self, nodes: int, params: dict, variant: dict):
        self.n = nodes
        self.p = params
        self.v = variant

    # -- the cluster -------------------------------------------------------------------
    def node_ids(self) -> list[str]:
        """Every node the engine simulates, in display order (servers, clients, stores)."""
        return [f"n{i}" for i in range(1, self.n + 1)]

    def peers_of(self, node_id: str, all_ids: tuple) -> tuple:
        """The nodes ``node_id`` talks to as ``ctx.peers`` (default: all others)."""
        return tuple(x for x in all_ids if x != node_id)

    def init_node(self, node_id: str) -> Any:
        raise NotImplementedError

    def init_ghost(self) -> Any:
        return None

    # -- handlers ----------------------------------------------------------------------
    def on_start(self, state, ctx: Context) -> None:
        """Called at time 0 and on every restart (after durable fields are restored)."""

    def on_message(self, state, msg, src: str, ctx: Context) -> None:
        """A message from ``src`` arrived."""

    def on_timer(self, state, name: str, ctx: Context) -> None:
        """The timer ``name`` fired."""

    def on_command(self, state, command: dict, ctx: Context) -> None:
        """A client command (one of ``commands``) addressed to this node."""

    def command_target(self, command: dict, view) -> str:
        """Which node receives a client command (default: its ``node`` field)."""
        return command["node"]

    # -- checking and display ----------------------------------------------------------
    def check(self, view, node_id: str | None) -> Iterable[tuple[str, str]]:
        """Invariant violations after an event on ``node_id`` (None: anything changed)."""
        return ()

    def check_final(self, view) -> Iterable[tuple[str, str]]:
        """Violations of 'eventually' properties, checked when a run ends."""
        return ()

    def metrics(self, view) -> dict:
        """Metrics derived from states and ghost, merged over the engine's counters."""
        return {}

    def role(self, state) -> str:
        """A short role or phase label for display (e.g. 'leader', 'prepared')."""
        return ""

    def summary(self, node_id: str, state) -> dict:
        """A compact JSON-ready summary of one node's state for the UI."""
        return {}

    def panel(self, view) -> dict:
        """Model-wide JSON-ready data for the UI panel (stores, ledgers, ghost facts)."""
        return {}
