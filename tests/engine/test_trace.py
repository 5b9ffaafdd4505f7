"""The trace's storage and canonical hash: what is stored reads back, and the hash sees
every value of every record but not how objects happen to be shared."""

from dataclasses import dataclass, make_dataclass

from playground.engine import trace as T
from playground.engine.trace import Trace


@dataclass(frozen=True, slots=True)
class Item:
    term: int
    key: str


@dataclass(frozen=True, slots=True)
class Batch:
    term: int
    leader: str | None
    items: tuple
    ok: bool
    weight: float


def batch(**changes):
    fields = {"term": 3, "leader": "n1", "items": (Item(1, "x"), Item(2, "y")), "ok": True,
              "weight": 0.5}
    fields.update(changes)
    return Batch(**fields)


def trace_of(messages, *, deliver=True):
    """Sends from n1 to n2 of each message, each delivered, with a timer in between."""
    tr = Trace()
    tr.add(0, "start", "n1", -1, ())
    for i, msg in enumerate(messages):
        mid = tr.add(10 * i, "send", "n1", 0, ("n2", type(msg).__name__, msg))
        tr.add(10 * i + 1, "timer", "n2", 0, tr.intern(("tick",)))
        if deliver:
            tr.add(10 * i + 5, "deliver", "n2", mid, None)
    return tr


def test_a_delivery_reads_its_source_and_message_kind_from_its_send():
    tr = trace_of([batch()])
    assert tr[3] == (5, "deliver", "n2", 1, ("n1", "Batch"))
    assert list(tr)[1] == (0, "send", "n1", 0, ("n2", "Batch", batch()))


def test_records_survive_the_flush_into_columns():
    messages = [batch(term=i) for i in range(5000)]  # more than one flush
    tr = trace_of(messages)
    assert len(tr) == 1 + 3 * 5000
    assert tr[-1] == (49_995, "deliver", "n2", len(tr) - 3, ("n1", "Batch"))
    assert tr[-3][4][2] == batch(term=4999)


def test_the_hash_does_not_depend_on_which_objects_are_shared():
    one = batch()
    shared = trace_of([one, one, one])
    copies = trace_of([batch(), batch(), batch()])
    assert T.sha256(shared) == T.sha256(copies)


def test_the_hash_sees_every_field_of_every_message():
    base = T.sha256(trace_of([batch(), Item(9, "z")]))
    changed = [
        [batch(term=4), Item(9, "z")],
        [batch(leader=None), Item(9, "z")],
        [batch(leader="n10"), Item(9, "z")],
        [batch(items=(Item(1, "x"),)), Item(9, "z")],
        [batch(items=(Item(1, "x"), Item(2, "Y"))), Item(9, "z")],
        [batch(items=(Item(1, "x"), Item(3, "y"))), Item(9, "z")],
        [batch(ok=False), Item(9, "z")],
        [batch(weight=0.25), Item(9, "z")],
        [batch(), Item(9, "zz")],
        [Item(9, "z"), batch()],
    ]
    hashes = {T.sha256(trace_of(messages)) for messages in changed}
    assert base not in hashes and len(hashes) == len(changed)


def test_strings_are_framed_so_that_moving_a_boundary_changes_the_hash():
    a = T.sha256(trace_of([Item(1, "ab"), Item(2, "c")]))
    b = T.sha256(trace_of([Item(1, "a"), Item(2, "bc")]))
    assert a != b


def test_values_beyond_64_bits_and_mixed_kinds_still_hash():
    big = T.sha256(trace_of([Item(2**70, "x"), Item(1, "y")]))
    bigger = T.sha256(trace_of([Item(2**70 + 1, "x"), Item(1, "y")]))
    mixed = T.sha256(trace_of([batch(leader=None), batch(leader=7)]))
    assert len({big, bigger, mixed}) == 3


def test_a_slice_hashes_like_a_trace_of_just_those_records():
    tr = trace_of([batch(term=i) for i in range(10)], deliver=False)
    head = trace_of([batch(term=i) for i in range(4)], deliver=False)
    assert T.sha256(tr, 0, len(head)) == T.sha256(head)
    assert T.sha256(tr, 0, len(head)) != T.sha256(tr)


def test_hundreds_of_message_classes_hash_and_stay_distinguishable():
    classes = [make_dataclass(f"M{i}", [("n", int)], frozen=True) for i in range(300)]
    messages = [cls(i) for i, cls in enumerate(classes)] * 2
    again = [cls(i) for i, cls in enumerate(classes)] * 2
    changed = list(again)
    changed[450] = classes[150](-1)
    assert T.sha256(trace_of(messages)) == T.sha256(trace_of(again))
    assert T.sha256(trace_of(messages)) != T.sha256(trace_of(changed))
