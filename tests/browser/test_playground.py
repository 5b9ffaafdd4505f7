"""The playground in a real browser against a real server: see, break, rewind, share, watch."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect

from playground.scenarios import share

pytestmark = pytest.mark.browser

RAFT = {"model": "raft", "seed": 3, "nodes": 5, "duration_ms": 4000}
LEADER = '[data-role="leader"][data-status="alive"]'


def get_json(server: str, path: str):
    with urllib.request.urlopen(server + path, timeout=10) as r:
        return json.loads(r.read())


def models(server):
    return get_json(server, "/api/models")


def raft_path(server, **overrides) -> str:
    if "raft" not in models(server):
        pytest.skip("the raft model is not registered in this build")
    return share.link_path({**RAFT, **overrides})


def single(presets: list) -> list:
    """The presets that open one run (a compare preset opens a pair, side by side)."""
    return [p for p in presets if not p["name"].startswith("compare-")]


def first_preset_path(server) -> tuple[str, dict]:
    presets = single(get_json(server, "/api/presets"))
    assert presets, "the server lists no presets"
    preset = presets[0]
    return get_json(server, f"/api/share?scenario={preset['name']}")["share_url"], preset


def sim_time(page) -> float:
    return float(re.match(r"([\d.]+) (m?s)", page.locator("#clock").text_content()).group(1)) \
        * (1000 if page.locator("#clock").text_content().split(" ")[1] == "s" else 1)


def play(page, speed: str):
    page.select_option("#speed", speed)
    page.get_by_role("button", name="Play", exact=True).click()


def node_menu(page, node_id: str):
    page.locator(f'[data-node-id="{node_id}"] circle.body').click()
    menu = page.locator("#menu")
    expect(menu).to_be_visible()
    return menu


def test_share_link_shows_every_node_and_link(open_page, server):
    path, preset = first_preset_path(server)
    page = open_page(path)
    scenario = share.decode(path[len("/s/"):])
    nodes = page.locator("[data-node-id]")
    expect(nodes).to_have_count(len(set(_ids(page))) or 1)
    ids = _ids(page)
    assert len(ids) >= scenario["nodes"]
    for node in nodes.all():
        assert node.get_attribute("data-status") in ("alive", "crashed", "paused")
    expect(page.locator(f'[data-link="{ids[0]}-{ids[1]}"]')).to_have_count(1)
    expect(page.locator("#info")).to_contain_text(preset["title"])
    expect(page.get_by_role("button", name="Play", exact=True)).to_be_enabled()


def _ids(page) -> list[str]:
    page.wait_for_selector("[data-node-id]")
    return page.eval_on_selector_all("[data-node-id]", "els => els.map(e => e.dataset.nodeId)")


def test_crash_the_leader_and_a_new_one_is_elected(open_page, server):
    page = open_page(raft_path(server, duration_ms=20000))
    play(page, "0.5")
    leader = page.locator(LEADER)
    expect(leader).to_have_count(1, timeout=30_000)
    old = leader.get_attribute("data-node-id")
    node_menu(page, old).get_by_role("menuitem", name="Crash").click()
    expect(page.locator(f'[data-node-id="{old}"]')).to_have_attribute("data-status", "crashed")
    new = page.locator(f'{LEADER}:not([data-node-id="{old}"])')
    expect(new).to_have_count(1, timeout=30_000)
    # The crash is in the event log and on the space-time diagram.
    expect(page.locator("#log")).to_contain_text("crash")
    assert page.locator("#spacetime .command.fault").count() >= 1


def test_read_a_key_from_a_chosen_server(open_page, server):
    """A server's menu offers the model's get: the client asks that server."""
    page = open_page(raft_path(server, duration_ms=20000))
    play(page, "0.5")
    leader = page.locator(LEADER)
    expect(leader).to_have_count(1, timeout=30_000)
    follower = page.evaluate("""() => window.playground.store.order.find(
        (id) => window.playground.store.node(id).role === 'follower')""")
    page.get_by_role("button", name="Pause", exact=True).click()
    menu = node_menu(page, follower)
    form = menu.locator("form.cmd", has=page.get_by_role("menuitem", name="Get"))
    form.locator("input").first.fill("k1")
    form.get_by_role("menuitem", name="Get").click()
    page.locator("#log-msgs").check()  # list sends and deliveries too
    play(page, "0.5")
    # The follower redirects the read; the leader confirms its leadership and answers.
    expect(page.locator("#log")).to_contain_text(f"sends ReadRequest to {follower}")
    expect(page.locator("#log")).to_contain_text("receives ReadReply", timeout=30_000)
    page.wait_for_function("() => (window.playground.store.metrics.reads_ok || 0) >= 1")


def test_cut_a_link_both_ways_then_one_way(open_page, server):
    page = open_page(raft_path(server))
    link = page.locator('[data-link="n1-n2"]')
    expect(link).to_have_attribute("data-state", "ok")
    link.locator("line.hit").click()
    page.locator("#menu").get_by_role("menuitem", name="Cut link").click()
    expect(link).to_have_attribute("data-state", "cut")
    link.locator("line.hit").click()
    page.locator("#menu").get_by_role("menuitem", name="Heal link").click()
    expect(link).to_have_attribute("data-state", "ok")
    link.locator("line.hit").click()
    page.locator("#menu").get_by_role("menuitem", name="Cut n2 → n1").click()
    expect(link).to_have_attribute("data-state", "oneway-back")
    link.locator("line.hit").click()
    menu = page.locator("#menu")
    menu.get_by_label("Loss").fill("0.5")
    menu.get_by_role("menuitem", name="Set latency and loss").click()
    expect(link).to_have_attribute("data-custom", "")


def test_scrub_back_shows_the_earlier_state(open_page, server):
    page = open_page(raft_path(server, duration_ms=20000))
    play(page, "1")
    page.wait_for_function("() => window.playground.store.t_ms > 600")
    page.get_by_role("button", name="Pause", exact=True).click()
    expect(page.get_by_role("button", name="Play", exact=True)).to_be_enabled()
    before = sim_time(page)
    node_menu(page, "n3").get_by_role("menuitem", name="Crash").click()
    n3 = page.locator('[data-node-id="n3"]')
    expect(n3).to_have_attribute("data-status", "crashed")
    # Drag the timeline back to half the time: n3 is alive again, the clock is earlier.
    page.eval_on_selector("#scrub", "(el, t) => { el.value = t; el.dispatchEvent(new Event('input')); }",
                          before / 2)
    expect(n3).to_have_attribute("data-status", "alive")
    page.wait_for_function(f"() => window.playground.store.t_ms <= {before / 2 + 1}")
    assert sim_time(page) <= before / 2 + 1
    # Forward again to the frontier: the recorded crash replays.
    page.eval_on_selector("#scrub", "(el, t) => { el.value = t; el.dispatchEvent(new Event('input')); }",
                          before + 50)
    expect(n3).to_have_attribute("data-status", "crashed")


def test_one_share_link_gives_the_same_run_in_two_pages(open_page, server):
    path = raft_path(server, duration_ms=3000)
    pages = [open_page(path), open_page(path)]
    for page in pages:
        play(page, "max")
    for page in pages:
        page.wait_for_function("() => { const s = window.playground.store; "
                               "return s.t_ms >= s.duration_ms && !s.playing; }", timeout=60_000)
    texts = [p.eval_on_selector_all("[data-node-id]", "els => els.map(e => e.textContent)")
             for p in pages]
    assert texts[0] == texts[1]
    sessions = [p.evaluate("[window.playground.conn.session, window.playground.conn.token]")
                for p in pages]
    assert sessions[0] != sessions[1]
    traces = [get_json(pages[0].watch.base, f"/api/sessions/{s}/trace.json?token={t}")
              for s, t in sessions]
    assert len(traces[0]) > 100
    assert traces[0] == traces[1]


def test_an_audience_page_follows_the_presenter(open_page, server):
    presenter = open_page(raft_path(server, duration_ms=20000))
    expect(presenter.locator("#role")).to_have_text("presenting")
    watch_url = presenter.locator("#watch").get_attribute("data-url")
    assert re.search(r"/w/[\w-]+$", watch_url)
    audience = open_page(watch_url[len(server):])
    expect(audience.locator("#role")).to_have_text("watching")
    expect(audience.get_by_role("button", name="Play", exact=True)).to_be_hidden()
    play(presenter, "1")
    audience.wait_for_function("() => window.playground.store.t_ms > 300")
    # Nor drop a message: its In flight list, listed while the run plays, is read-only.
    audience.wait_for_function("""() => {
        const drops = [...document.querySelectorAll('#flight button')];
        return drops.length > 0 && drops.every((b) => b.disabled);
    }""")
    node_menu(presenter, "n2").get_by_role("menuitem", name="Crash").click()
    expect(audience.locator('[data-node-id="n2"]')).to_have_attribute("data-status", "crashed")
    presenter.get_by_role("button", name="Pause", exact=True).click()
    audience.wait_for_function("() => !window.playground.store.playing")
    # The audience may not act: its node menu offers no enabled fault.
    node_menu(audience, "n1")
    expect(audience.locator("#menu").get_by_role("menuitem", name="Crash")).to_be_disabled()


def test_no_request_leaves_the_machine_and_the_page_is_light(open_page, server):
    path, _ = first_preset_path(server)
    page = open_page(path)
    page.wait_for_selector("[data-node-id]")
    page.wait_for_load_state("networkidle")
    watch = page.watch
    assert watch.local and not watch.foreign
    static = sorted({u.split("?")[0] for u in watch.local if "/static/" in u})
    weight = sum(len(urllib.request.urlopen(u, timeout=10).read()) for u in static)
    assert weight <= 200 * 1024, f"static files weigh {weight} bytes"


def test_keyboard_and_lecture_mode(open_page, server):
    page = open_page(raft_path(server, duration_ms=20000) + "?lecture=1")
    page.wait_for_selector("[data-node-id]")
    assert "lecture" in page.evaluate("document.body.className")
    page.locator("body").press("?")
    expect(page.locator("#help")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#help")).to_be_hidden()
    page.keyboard.press("4")
    page.wait_for_function("() => window.playground.store.speed === 0.1")
    page.keyboard.press(" ")
    expect(page.get_by_role("button", name="Pause", exact=True)).to_be_enabled()
    page.keyboard.press(" ")
    expect(page.get_by_role("button", name="Play", exact=True)).to_be_enabled()
    before = page.evaluate("window.playground.store.events.length")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => window.playground.store.events.length > {before}")


def test_every_model_renders_its_panel(open_page, server):
    presets = get_json(server, "/api/presets")
    seen = set()
    for preset in presets:
        if preset["model"] in seen:
            continue
        seen.add(preset["model"])
        path = get_json(server, f"/api/share?scenario={preset['name']}")["share_url"]
        page = open_page(path)
        page.wait_for_selector("[data-node-id]")
        play(page, "max")
        page.wait_for_function("() => { const s = window.playground.store; "
                               "return s.t_ms > 0 && !s.playing; }", timeout=60_000)
        expect(page.locator("#panel table, #panel p").first).to_be_visible()
        page.wait_for_timeout(300)  # the panel redraws at most five times a second
        assert not page.watch.errors, (preset["name"], page.watch.errors)
    assert seen


def test_partition_a_selected_group(open_page, server):
    page = open_page(raft_path(server))
    page.wait_for_selector("[data-node-id]")
    for node in ("n1", "n2"):
        page.locator(f'[data-node-id="{node}"] circle.body').click(modifiers=["Shift"])
    expect(page.locator('[data-node-id="n1"]')).to_have_class(re.compile(r"\bselected\b"))
    page.get_by_role("button", name=re.compile(r"^Partition selected")).click()
    expect(page.locator('[data-link="n1-n3"]')).to_have_attribute("data-state", "cut")
    expect(page.locator('[data-link="n2-n5"]')).to_have_attribute("data-state", "cut")
    expect(page.locator('[data-link="n1-n2"]')).to_have_attribute("data-state", "ok")
    page.get_by_role("button", name="Heal all").click()
    expect(page.locator('[data-link="n1-n3"]')).to_have_attribute("data-state", "ok")


def test_a_variant_switch_starts_a_new_run(open_page, server):
    page = open_page(raft_path(server))
    page.wait_for_selector("[data-node-id]")
    first = page.evaluate("window.playground.conn.session")
    switch = page.locator("#variants select").first
    name = switch.get_attribute("aria-label")
    other = [o for o in switch.locator("option").all_inner_texts()
             if not o.startswith(switch.locator("option:checked").inner_text())][0]
    switch.select_option(label=other)
    page.wait_for_function(f"() => window.playground.conn.session !== '{first}'")
    page.wait_for_selector("[data-node-id]")
    expect(page.get_by_label(name, exact=True)).to_have_value(
        switch.locator("option", has_text=other).first.get_attribute("value"))


def test_share_link_after_an_action_replays_it(open_page, server):
    page = open_page(raft_path(server, duration_ms=20000))
    page.wait_for_selector("[data-node-id]")
    page.get_by_role("button", name="Step", exact=True).click()
    node_menu(page, "n4").get_by_role("menuitem", name="Crash").click()
    expect(page.locator('[data-node-id="n4"]')).to_have_attribute("data-status", "crashed")
    page.wait_for_function("() => document.getElementById('share').dataset.url.includes('/s/')")
    link = page.locator("#share").get_attribute("data-url")
    replay = open_page(link[len(server):])
    replay.wait_for_selector("[data-node-id]")
    expect(replay.locator('[data-node-id="n4"]')).to_have_attribute("data-status", "alive")
    play(replay, "max")
    expect(replay.locator('[data-node-id="n4"]')).to_have_attribute("data-status", "crashed")


def header_rows(page) -> list[tuple[float, float]]:
    """The top and bottom of each header item the page shows (not the More menu's)."""
    return page.eval_on_selector_all("header.top > *", """els => els.filter(e => e.offsetParent
        && getComputedStyle(e).position !== 'absolute').map(e => e.getBoundingClientRect())
        .filter(r => r.height > 0).map(r => [r.top, r.bottom])""")


def test_the_header_is_one_row_on_a_laptop(open_page):
    """At 1280×720 every header item shares one row, and the header is no taller than a
    button and its padding; the watch link and the exports are one click away in More."""
    page = open_page("/?preset=raft-election", viewport={"width": 1280, "height": 720})
    page.wait_for_selector("[data-node-id]")
    expect(page.locator("#room")).to_be_visible()  # the widest header: a presenter's
    rows = header_rows(page)
    assert max(top for top, _ in rows) < min(bottom for _, bottom in rows), rows
    button = page.locator("#share").bounding_box()["height"]
    assert page.locator("header.top").bounding_box()["height"] < 2 * button
    for name in ("Compare", "Find a counterexample", "Share link", "Room link", "Lecture"):
        expect(page.get_by_role("button", name=name, exact=True)).to_be_in_viewport()
    page.get_by_role("button", name="More").click()
    for item in ("#watch", "#export-trace", "#export-svg"):
        expect(page.locator(item)).to_be_in_viewport()


def test_export_the_trace_and_the_diagram(open_page, server):
    page = open_page(raft_path(server, duration_ms=20000))
    play(page, "1")
    page.wait_for_function("() => window.playground.store.t_ms > 300")
    page.get_by_role("button", name="Pause", exact=True).click()
    expect(page.get_by_role("button", name="Play", exact=True)).to_be_enabled()
    with page.expect_download() as svg:
        page.get_by_role("button", name="More").click()  # the exports live in its menu
        page.get_by_role("button", name="Diagram SVG").click()
    text = open(svg.value.path(), encoding="utf-8").read()
    assert text.startswith("<svg") and "<line" in text and "n1" in text
    with page.expect_download() as trace:
        page.get_by_role("button", name="More").click()
        page.get_by_role("link", name="Trace JSON").click()
    records = json.loads(open(trace.value.path(), encoding="utf-8").read())
    assert records[0]["kind"] == "start" and any(r["kind"] == "send" for r in records)
    # A line of the event log seeks there and shows its record in full.
    index = page.locator("#log li").first.get_attribute("data-i")
    line = page.locator(f'#log li[data-i="{index}"]')
    at = float(line.get_attribute("data-t"))
    line.click()
    expect(page.locator("#inspected")).to_contain_text(f"#{index} ")
    page.wait_for_function(f"() => Math.abs(window.playground.store.t_ms - {at}) < 0.01")


def paused_with_a_message_in_flight(open_page, server):
    """A Raft page paused after its election with at least one message on the wire."""
    page = open_page(raft_path(server, duration_ms=20000))
    play(page, "0.1")
    page.wait_for_function("() => window.playground.store.t_ms > 250 && "
                           "window.playground.store.messages.length > 0")
    page.get_by_role("button", name="Pause", exact=True).click()
    expect(page.get_by_role("button", name="Play", exact=True)).to_be_enabled()
    for _ in range(50):  # step until a message is on the wire
        if page.evaluate("window.playground.store.messages.length"):
            break
        seq = page.evaluate("window.playground.store.seq")
        page.get_by_role("button", name="Step", exact=True).click()
        page.wait_for_function(f"() => window.playground.store.seq > {seq}")
    return page


def test_drop_a_message_in_flight(open_page, server):
    page = paused_with_a_message_in_flight(open_page, server)
    mid = page.evaluate("window.playground.store.messages[0].id")
    page.wait_for_function(f"() => window.playground.cluster.messagePoint({mid})")
    x, y = page.evaluate(f"window.playground.cluster.messagePoint({mid})")
    page.mouse.click(x, y)
    page.wait_for_function(f"() => !window.playground.store.messages.some(m => m.id === {mid})")
    expect(page.locator("#log")).to_contain_text("dropped by user")


def test_drop_a_message_from_the_keyboard(open_page, server):
    page = paused_with_a_message_in_flight(open_page, server)
    # The list (redrawn a few times a second) starts with the next arrival.
    page.wait_for_function("""() => {
        const b = document.querySelector('#flight button');
        const ms = window.playground.store.messages;
        const next = [...ms].sort((x, y) => x.due_ms - y.due_ms || x.id - y.id)[0];
        return b && next && b.getAttribute('aria-label').includes(`#${next.id} `);
    }""")
    first = page.locator("#flight button").first
    expect(first).to_be_enabled()
    mid = int(re.search(r"#(\d+) ", first.get_attribute("aria-label")).group(1))
    first.focus()
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => !window.playground.store.messages.some(m => m.id === {mid})")
    expect(page.locator("#log")).to_contain_text("dropped by user")
    expect(page.locator("#flight")).not_to_contain_text(f"#{mid} ")


def test_violation_banner_jumps_to_the_violation(open_page, server):
    presets = [p for p in single(get_json(server, "/api/presets"))
               if p["expected"].get("violations")]
    if not presets:
        pytest.skip("no preset expects an invariant violation in this build")
    preset = presets[0]
    page = open_page(get_json(server, f"/api/share?scenario={preset['name']}")["share_url"])
    play(page, "max")
    banner = page.locator("#banner")
    # Captions may pause the run on the way: play on after each until the banner shows (or
    # the run ends). Play is pressed only while it is enabled, in the page itself: a frame
    # may land between a check from here and a click from here.
    paused_at = 0
    for _ in range(40):
        state = page.wait_for_function(
            """at => {
                 if (!document.querySelector('#banner').hidden) return 'banner';
                 const st = window.playground.store, play = document.querySelector('#play');
                 if (st.duration_ms > 0 && st.t_ms >= st.duration_ms && !st.playing) return 'ended';
                 if (st.playing || st.t_ms <= at || play.disabled) return false;
                 play.click();
                 return 'played at ' + st.t_ms;
               }""", arg=paused_at, timeout=60_000).json_value()
        if state in ("banner", "ended"):
            break
        paused_at = float(state.split()[-1])
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(preset["expected"]["violations"][0]
                                   if len(preset["expected"]["violations"]) == 1 else "violation")
    page.wait_for_function("() => !window.playground.store.playing")
    at = page.evaluate("window.playground.store.violations[0].at_ms")
    page.get_by_role("button", name="Jump to violation").click()
    page.wait_for_function(f"() => Math.abs(window.playground.store.t_ms - {at}) < 0.01")
    expect(page.locator("#spacetime .violation").first).to_be_attached()


def test_25_nodes_and_200_messages_are_drawn_by_reusing_elements(open_page, server):
    """With 25 nodes and about 200 messages in flight every message is drawn, and frames
    update the nodes' elements instead of rebuilding them (what keeps drawing cheap; how
    fast it draws is measured by ``benchmarks/drawing.py``, not asserted here)."""
    page = open_page(raft_path(server, nodes=23, duration_ms=60_000,
                               network={"latency_ms": [120, 160]}))
    play(page, "1")
    # A moment with at least 150 messages in flight (the elections' bursts: the steady
    # state has fewer) and nine in ten of them drawn; checked on each animation frame,
    # after the drawing, since the count changes from frame to frame.
    page.wait_for_function("""() => {
        const app = window.playground, flying = app.store.messages.length;
        return flying >= 150 && app.cluster.drawn.length >= 0.9 * flying; }""",
                           timeout=30_000)
    seq = page.evaluate("""() => { for (const el of document.querySelectorAll("[data-node-id]"))
                                       el._kept = true;
                                   return window.playground.store.seq; }""")
    page.wait_for_function(f"() => window.playground.store.seq >= {seq + 10}")
    page.wait_for_timeout(100)  # a turn of requestAnimationFrame after the newest frame
    drawn = page.evaluate("""() => {
        const app = window.playground, els = [...document.querySelectorAll("[data-node-id]")];
        return {nodes: els.length, kept: els.filter((el) => el._kept).length,
                flying: app.store.messages.length, drawn: app.cluster.drawn.length}; }""")
    assert drawn["nodes"] == 25 and drawn["kept"] == 25, drawn  # ten frames later: reused
    assert drawn["drawn"] >= 0.9 * drawn["flying"], drawn


def test_presenter_keys_walk_the_captions(open_page, server):
    presets = [p for p in get_json(server, "/api/presets") if p["model"] == "raft"]
    if not presets:
        pytest.skip("the raft model is not registered in this build")
    path = get_json(server, f"/api/share?scenario={presets[0]['name']}")["share_url"]
    scenario = share.decode(path[len("/s/"):])
    captions = sorted(c["at_ms"] for c in scenario.get("narrative", []) if c["at_ms"] > 0)
    if not captions:
        pytest.skip(f"{presets[0]['name']} has no caption after 0 ms")
    page = open_page(path)
    page.wait_for_selector("[data-node-id]")
    page.wait_for_function("() => window.playground.controls.captions.length > 0")
    page.keyboard.press("PageDown")
    page.wait_for_function(f"() => Math.abs(window.playground.store.t_ms - {captions[0]}) < 0.01")
    expect(page.locator("#caption")).to_be_visible()
    page.keyboard.press("PageUp")
    page.wait_for_function("() => window.playground.store.t_ms < " + str(captions[0]))


def test_embed_shows_only_the_stage(open_page, server):
    presenter = open_page(raft_path(server))
    watch_url = presenter.locator("#watch").get_attribute("data-url")
    embedded = open_page(watch_url[len(server):] + "?embed=1", viewport={"width": 800, "height": 450})
    embedded.wait_for_selector("[data-node-id]")
    expect(embedded.locator("header.top")).to_be_hidden()
    expect(embedded.locator("#side")).to_be_hidden()
    expect(embedded.locator("#cluster")).to_be_visible()


def test_a_damaged_share_link_says_what_is_wrong(open_page, server):
    path = raft_path(server)
    i = len(path) // 2
    damaged = path[:i] + ("A" if path[i] != "A" else "B") + path[i + 1:]
    page = open_page(damaged)
    expect(page.locator("#toast")).to_contain_text(
        re.compile(r"Could not start: the share link (was altered|is damaged)"))
    assert page.locator("[data-node-id]").count() == 0


def test_remove_a_server_from_its_menu_and_add_one_from_the_client_card(open_page, server):
    """n5 starts outside the configuration (drawn as such); a server's menu removes it
    from the cluster, the client card's Add server brings n5 in."""
    page = open_page(raft_path(server, duration_ms=20000, params={"initial_members": 4}))
    expect(page.locator('[data-node-id="n5"]')).to_have_attribute("data-role", "outside")
    play(page, "0.5")
    leader = page.locator(LEADER)
    expect(leader).to_have_count(1, timeout=30_000)
    follower = page.evaluate("""() => ['n1', 'n2', 'n3', 'n4'].find(
        (id) => window.playground.store.node(id).role === 'follower')""")
    node_menu(page, follower).get_by_role("menuitem", name="Remove from cluster").click()
    expect(page.locator(f'[data-node-id="{follower}"]')).to_have_attribute(
        "data-role", "outside", timeout=30_000)
    form = page.locator("#client form.cmd", has=page.get_by_text("Add server"))
    form.locator("select").select_option("n5")
    form.get_by_role("button").click()
    expect(page.locator('[data-node-id="n5"]')).to_have_attribute("data-role", "follower",
                                                                   timeout=30_000)
    expect(page.locator("#panel table.raft tr.outside")).to_have_count(1)
    expect(page.locator("#panel")).to_contain_text("Outside")
