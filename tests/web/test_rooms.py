"""Rooms: one link that follows the presenter's sessions, and live questions."""

from __future__ import annotations

import json
import re

import pytest

from playground import create_app, socketio
from playground.scenarios import links, presets, run
from playground.web.rooms import MAX_ANSWERS, Rooms, notice

from .conftest import frames, toy_scenario, wait_for


def ask(client, event, payload):
    return client.emit(event, payload, callback=True)


def received(client, name):
    return [p["args"][0] for p in client.get_received() if p["name"] == name]


def boot(response) -> dict:
    return json.loads(re.search(r"const BOOT = (.*);</script>", response.text).group(1))


@pytest.fixture
def presenter(connect):
    """A client that runs a session and owns a room pointed at it."""
    client = connect()
    made = ask(client, "create", {"scenario": toy_scenario()})
    opened = ask(client, "room_open", {})
    assert opened["ok"] and opened["room_url"] == f"/r/{opened['room']}"
    pointed = ask(client, "room_set", {"room": opened["room"], "token": opened["token"],
                                      "session": made["session"],
                                      "session_token": made["token"]})
    assert pointed["ok"], pointed
    client.room, client.token, client.made = opened["room"], opened["token"], made
    return client


def test_a_room_id_carries_128_random_bits_and_its_page_boots_the_room(presenter, http):
    assert len(presenter.room) >= 22  # token_urlsafe(16): 128 bits
    page = http.get(f"/r/{presenter.room}")
    assert page.status_code == 200 and boot(page)["room"] == presenter.room
    missing = http.get("/r/" + "x" * 22)
    assert missing.status_code == 404 and "no room" in missing.text


def test_members_follow_the_presenter_to_a_new_session_with_a_notice(presenter, connect, app):
    member = connect()
    joined = ask(member, "room_join", {"room": presenter.room})
    assert joined["ok"] and joined["session"] == presenter.made["session"]
    assert ask(member, "join", {"session": joined["session"]})["role"] == "watch"
    member.get_received()
    other = ask(presenter, "create", {"scenario": toy_scenario(seed=8,
                                                               variant={"extra_pong": True})})
    pointed = ask(presenter, "room_set", {"room": presenter.room, "token": presenter.token,
                                          "session": other["session"],
                                          "session_token": other["token"]})
    assert pointed["notice"] == "now: Ping-pong (engine test model) with extra_pong"
    moved = received(member, "room")
    assert moved == [{"room": presenter.room, "session": other["session"],
                      "notice": "now: Ping-pong (engine test model) with extra_pong"}]
    # the server moved the member already: the new session's frames come without a join
    wait_for(member, lambda f: f.get("full") and f["session"] == other["session"])
    ask(presenter, "control", {"session": other["session"], "token": other["token"],
                               "op": "step"})
    assert wait_for(member, lambda f: not f.get("full") and f["seq"] > 1)
    registry = app.extensions["playground"]
    assert registry.audience(other["session"]) == 1  # the member; no longer the old one
    assert registry.audience(presenter.made["session"]) == 0
    late = connect()
    assert ask(late, "room_join", {"room": presenter.room})["session"] == other["session"]


def test_only_the_presenters_token_changes_the_room(presenter, connect):
    intruder = connect()
    own = ask(intruder, "create", {"scenario": toy_scenario()})
    for token in (None, "wrong-token", presenter.made["token"]):
        payload = {"room": presenter.room, "session": own["session"],
                   "session_token": own["token"]}
        if token:
            payload["token"] = token
        answer = ask(intruder, "room_set", payload)
        assert not answer["ok"] and "only its presenter" in answer["error"]
    # and the presenter cannot point the room at a session it does not control
    answer = ask(presenter, "room_set", {"room": presenter.room, "token": presenter.token,
                                         "session": own["session"],
                                         "session_token": presenter.made["token"]})
    assert not answer["ok"] and "wrong token for session" in answer["error"]
    assert ask(intruder, "ask", {"room": presenter.room, "token": "nope",
                                 "question": "?"})["ok"] is False
    assert ask(connect(), "room_join", {"room": "no room"})["error"].startswith("'room' is not")


def test_watch_links_of_single_sessions_still_work_beside_a_room(presenter, connect):
    watcher = connect()
    assert ask(watcher, "join", {"session": presenter.made["session"]})["ok"]
    ask(presenter, "control", {"session": presenter.made["session"],
                               "token": presenter.made["token"], "op": "step"})
    assert wait_for(watcher, lambda f: f.get("full"))


def test_the_notice_names_the_switches_that_changed():
    meta = {"model": "raft", "title": "Raft", "variant": {"prevote": True, "check_quorum": True}}
    assert notice(meta, {"model": "raft", "variant": {"prevote": False,
                                                       "check_quorum": True}}) == \
        "now: Raft with prevote"
    assert notice({**meta, "variant": {"prevote": False, "check_quorum": True}},
                  {"model": "raft", "variant": meta["variant"]}) == "now: Raft with no prevote"


def test_a_room_opened_in_one_process_resolves_in_another_sharing_the_store(tmp_path):
    made = []
    for _ in range(2):
        (tmp_path / "play.html").write_text("<script>const BOOT = {{ boot | tojson }};"
                                            "</script>")
        made.append(create_app({"ASYNC": "threading", "TEMPLATE_FOLDER": str(tmp_path),
                                "TESTING": True, "DATA_DIR": str(tmp_path / "data")}))
    room, _token = made[0].extensions["playground_rooms"].open()
    page = made[1].test_client().get(f"/r/{room}")
    assert page.status_code == 200 and boot(page)["room"] == room


# -- questions ---------------------------------------------------------------------------
def members(connect, presenter, n):
    out = []
    for _ in range(n):
        client = connect()
        client.member = ask(client, "room_join", {"room": presenter.room})["member"]
        out.append(client)
    return out


def test_three_answers_are_tallied_and_a_second_from_one_member_is_refused(presenter, connect):
    audience = members(connect, presenter, 3)
    asked = ask(presenter, "ask", {"room": presenter.room, "token": presenter.token,
                                   "question": "Which node pings first?"})
    assert asked["ok"] and asked["question"]["choices"] == ["n1", "n2", "n3", "n4", "n5"]
    shown = received(audience[0], "question")[-1]
    assert shown["question"] == "Which node pings first?" and "answer" not in shown
    for client, choice in zip(audience, ("n2", "n2", "n4")):
        assert ask(client, "answer", {"room": presenter.room, "member": client.member,
                                      "choice": choice})["ok"]
    again = ask(audience[0], "answer", {"room": presenter.room, "member": audience[0].member,
                                        "choice": "n1"})
    assert not again["ok"] and "answered this question already" in again["error"]
    tally = received(presenter, "tally")[-1]
    assert tally["counts"] == [0, 2, 0, 1, 0] and tally["total"] == 3
    assert received(audience[1], "tally") == []  # the audience sees counts at the reveal


def test_a_reveal_shows_the_answer_and_closes_the_question(presenter, connect):
    (member,) = members(connect, presenter, 1)
    ask(presenter, "ask", {"room": presenter.room, "token": presenter.token,
                           "question": "Who wins?", "choices": ["a", "b"], "answer": "b"})
    assert "answer" not in received(member, "question")[-1]
    ask(member, "answer", {"room": presenter.room, "member": member.member, "choice": "b"})
    revealed = ask(presenter, "reveal", {"room": presenter.room, "token": presenter.token})
    assert revealed["tally"]["counts"] == [0, 1]
    shown = received(member, "question")[-1]
    assert shown["answer"] == "b" and shown["revealed"] and shown["tally"]["counts"] == [0, 1]
    late = ask(member, "answer", {"room": presenter.room, "member": member.member,
                                  "choice": "a"})
    assert "closed" in late["error"]


@pytest.mark.parametrize("payload, error", [
    ({"choice": "n1"}, "'member' is missing"),
    ({"member": "forged.0000", "choice": "n1"}, "not a member id of this room"),
    ({"member": None, "choice": 3}, "'choice' must be"),
    ({"member": None, "choice": "n9"}, "'n9' is not one of the choices"),
])
def test_a_malformed_answer_gets_a_clear_error(presenter, connect, payload, error):
    (member,) = members(connect, presenter, 1)
    ask(presenter, "ask", {"room": presenter.room, "token": presenter.token, "question": "?"})
    if "member" in payload and payload["member"] is None:
        payload = {**payload, "member": member.member}
    answer = ask(member, "answer", {"room": presenter.room, **payload})
    assert not answer["ok"] and error in answer["error"], answer


def test_a_member_id_from_another_room_is_refused(presenter, connect):
    (member,) = members(connect, presenter, 1)
    other = ask(connect(), "room_open", {})
    joined = ask(member, "room_join", {"room": other["room"], "member": member.member})
    assert joined["member"] != member.member  # a fresh id: the old one is not this room's


def test_questions_are_capped_in_answers(tmp_path):
    from playground.store import SqliteStore

    rooms = Rooms(SqliteStore(tmp_path / "s.sqlite3"))
    room, _ = rooms.open()
    record = rooms.get(room)
    rooms.ask(room, record, {"question": "?", "choices": ["a", "b"]})
    key = f"room:{room}:q1:n"
    rooms.store.put(key, str(MAX_ANSWERS).encode())
    with pytest.raises(Exception, match="limit"):
        rooms.answer(room, record, rooms.member(record), "a")


def test_an_on_the_spot_question_is_validated(presenter):
    for payload, error in [({}, "'question' is a required property"),
                           ({"question": "?", "choices": ["a"]}, "choices"),
                           ({"question": "?", "choices": ["a", "b"], "answer": "c"},
                            "not one of the choices")]:
        answer = ask(presenter, "ask", {"room": presenter.room, "token": presenter.token,
                                        **payload})
        assert not answer["ok"] and error in answer["error"], answer


def test_a_captions_question_is_asked_by_its_time_and_its_answer_stays_on_the_server(connect):
    ask_ = {"question": "Who pings first?", "choices": ["n1", "n2"], "answer": "n2"}
    scenario = toy_scenario(narrative=[{"at_ms": 5, "text": "look", "pause": True,
                                        "ask": ask_}])
    client = connect()
    made = ask(client, "create", {"scenario": scenario})
    joined = ask(client, "join", {"session": made["session"], "token": made["token"]})
    assert joined["scenario"]["narrative"][0]["ask"] == {"question": "Who pings first?",
                                                         "choices": ["n1", "n2"]}
    ask(client, "control", {"session": made["session"], "token": made["token"],
                            "op": "step", "value": 10})
    shown = wait_for(client, lambda f: (f.get("caption") or {}).get("ask"))
    assert all("answer" not in (f.get("caption") or {}).get("ask", {}) for f in shown)
    opened = ask(client, "room_open", {})
    room = {"room": opened["room"], "token": opened["token"]}
    ask(client, "room_set", {**room, "session": made["session"],
                             "session_token": made["token"]})
    asked = ask(client, "ask", {**room, "caption": 5})
    assert asked["question"]["answer"] == "n2"
    assert "no caption at 6 ms" in ask(client, "ask", {**room, "caption": 6})["error"]
    assert ask(client, "reveal", room)["question"]["answer"] == "n2"
