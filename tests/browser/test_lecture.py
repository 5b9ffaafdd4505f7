"""Lecture mode in a real browser: a stage that a room can read, captions paced and
marked when the presenter leaves the script, every action from the keyboard, an address
bar that follows the run. Assertions are on states, never on how fast anything ran."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from playground.scenarios import presets, share

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs"
PRESET = "raft-election"  # five servers, a client and a storage; captions at 0, 170, 200 ms…
LABELS = ".node .nid, .node .summary, .node .clock"


def open_lecture(open_page, size=(1280, 720), preset=PRESET):
    page = open_page(f"/?preset={preset}&lecture=1",
                     viewport={"width": size[0], "height": size[1]})
    page.wait_for_selector("[data-node-id]")
    speed = presets()[preset]["lecture_speed"]
    page.wait_for_function(f"() => window.playground.store.speed === {speed}")
    return page


def trace_commands(page, server) -> list[dict]:
    session, token = page.evaluate("[window.playground.conn.session, window.playground.conn.token]")
    url = f"{server}/api/sessions/{session}/trace.json?token={token}"
    with urllib.request.urlopen(url, timeout=10) as r:
        records = json.loads(r.read())
    return [{**r["command"], "at_ms": r["t_us"] / 1000} for r in records
            if r["kind"] == "command"]


def focused(page) -> dict:
    return page.evaluate("""() => { const e = document.activeElement;
        return {node: e?.dataset?.nodeId || null, link: e?.dataset?.link || null,
                text: e?.textContent || '', role: e?.getAttribute('role')}; }""")


def tab_to(page, predicate, limit=120) -> dict:
    for _ in range(limit):
        page.keyboard.press("Tab")
        now = focused(page)
        if predicate(now):
            return now
    raise AssertionError("Tab never reached the element")


def menu_to(page, label: str):
    """Move with the arrow keys to the menu item ``label``."""
    for _ in range(40):
        if focused(page)["text"].strip() == label:
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"no menu item {label!r}")


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
def test_the_stage_gets_the_screen_and_labels_can_be_read(open_page, size):
    page = open_lecture(open_page, size)
    page.keyboard.press("PageDown")  # to the first caption after 0 ms: an election under way
    page.wait_for_function("() => !window.playground.store.playing && window.playground.store.t_ms > 0")
    page.wait_for_timeout(400)  # the panel and labels settle
    width, height = size
    box = page.locator("#cluster").bounding_box()
    assert box["width"] * box["height"] >= 0.5 * width * height, box
    fonts = page.eval_on_selector_all(".node .nid, .node .summary",
                                      "els => els.map(e => parseFloat(getComputedStyle(e).fontSize))")
    assert fonts and min(fonts) >= 16, fonts
    boxes = page.eval_on_selector_all(LABELS, """els => els.filter(e => e.textContent).map(e => {
        const r = e.getBoundingClientRect();
        return [e.closest('[data-node-id]').dataset.nodeId, r.left, r.top, r.right, r.bottom]; })""")
    for i, (a, *ra) in enumerate(boxes):
        for b, *rb in boxes[i + 1:]:
            if a == b:
                continue
            apart = ra[2] <= rb[0] or rb[2] <= ra[0] or ra[3] <= rb[1] or rb[3] <= ra[1]
            assert apart, f"labels of {a} and {b} overlap: {ra} {rb}"
    for bar in ("header.top", "#controls"):
        tops = page.eval_on_selector_all(f"{bar} > *", """els => els.filter(e => e.offsetParent
            && getComputedStyle(e).position !== 'absolute').map(e => e.getBoundingClientRect())
            .filter(r => r.height > 0).map(r => [r.top, r.bottom])""")
        assert max(t for t, _ in tops) < min(b for _, b in tops), f"{bar} wraps: {tops}"
    expect(page.locator("#side")).not_to_be_in_viewport()
    page.keyboard.press("d")  # the side panel is a drawer
    expect(page.locator("#side")).to_be_in_viewport()
    page.keyboard.press("Escape")
    expect(page.locator("#side")).not_to_be_in_viewport()
    expect(page.locator("#counts")).to_contain_text("5 nodes + 2 helpers (client, storage)")
    page.screenshot(path=str(DOCS / f"lecture-{width}.png"))


def label_overlaps(page) -> list[str]:
    """Pairs of nodes whose label boxes (name, summary, clock) intersect."""
    return page.evaluate("""(sel) => {
        const boxes = [...document.querySelectorAll(sel)].filter((e) => e.textContent)
          .map((e) => [e.closest('[data-node-id]').dataset.nodeId, e.getBoundingClientRect()]);
        const out = [];
        boxes.forEach(([a, r], i) => boxes.slice(i + 1).forEach(([b, q]) => {
          if (a !== b && !(r.right <= q.left || q.right <= r.left || r.bottom <= q.top
                           || q.bottom <= r.top)) out.push(`${a}/${b}`);
        }));
        return out; }""", "#cluster " + LABELS.replace(", ", ", #cluster "))


@pytest.mark.parametrize("preset", sorted({p["model"]: name for name, p in
                                          sorted(presets().items(), reverse=True)}.values()))
def test_every_model_lays_out_without_overlapping_labels(open_page, preset):
    page = open_lecture(open_page, preset=preset)
    page.keyboard.press("PageDown")
    page.wait_for_function("() => !window.playground.store.playing && window.playground.store.t_ms > 0",
                           timeout=60_000)
    page.wait_for_timeout(300)
    assert label_overlaps(page) == [], preset
    fonts = page.eval_on_selector_all("#cluster .node .nid",
                                      "els => els.map(e => parseFloat(getComputedStyle(e).fontSize))")
    assert min(fonts) >= 16, (preset, fonts)


def test_a_phone_sees_the_stage_too(open_page):
    page = open_lecture(open_page, (390, 844))
    page.keyboard.press("PageDown")
    page.wait_for_function("() => !window.playground.store.playing && window.playground.store.t_ms > 0")
    page.wait_for_timeout(400)
    expect(page.locator("#cluster")).to_be_visible()
    assert page.locator("#cluster").bounding_box()["height"] >= 300
    page.screenshot(path=str(DOCS / "lecture-390.png"))


def test_helpers_stand_apart_and_their_links_show_only_while_used(open_page):
    page = open_lecture(open_page)
    ring = page.locator('[data-node-id="n1"]').bounding_box()
    client = page.locator('[data-node-id="client"]').bounding_box()
    assert client["x"] > ring["x"] + 300  # beside the ring, not on it
    expect(page.locator('[data-link="n1-client"]')).to_be_hidden()
    expect(page.locator('[data-link="n1-n2"]')).to_be_visible()
    expect(page.locator('[data-link="n1-n2"]')).to_have_attribute("tabindex", "0")


def test_the_keyboard_alone_crashes_cuts_heals_and_partitions(open_page, server):
    page = open_lecture(open_page)
    tab_to(page, lambda f: f["node"] == "n3")
    page.keyboard.press("Enter")
    menu = page.locator("#menu")
    expect(menu).to_be_visible()
    expect(menu).to_have_attribute("role", "menu")
    first = focused(page)
    assert first["role"] == "menuitem" and first["text"] == "Crash", first
    page.wait_for_timeout(300)
    expect(menu).to_be_visible()  # it stays open: the key that opened it pressed nothing
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    assert focused(page)["node"] == "n3"
    page.keyboard.press(" ")  # Space opens it as well
    expect(menu).to_be_visible()
    page.keyboard.press("Enter")  # Crash
    expect(page.locator('[data-node-id="n3"]')).to_have_attribute("data-status", "crashed")
    assert focused(page)["node"] == "n3"  # focus came back
    opacity = page.eval_on_selector('[data-node-id="n3"] .nid', "e => getComputedStyle(e).opacity")
    assert float(opacity) >= 0.8  # a crashed node keeps its name readable

    link = tab_to(page, lambda f: f["link"] is not None)["link"]
    a, b = link.split("-")
    page.keyboard.press("Enter")
    expect(menu).to_be_visible()
    menu_to(page, f"Cut {a} → {b}")
    page.keyboard.press("Enter")
    expect(page.locator(f'[data-link="{link}"]')).to_have_attribute("data-state", "oneway")
    assert focused(page)["link"] == link
    page.keyboard.press("Enter")
    menu_to(page, "Heal link")
    page.keyboard.press("Enter")
    expect(page.locator(f'[data-link="{link}"]')).to_have_attribute("data-state", "ok")

    for node in ("n4", "n5"):
        tab_to(page, lambda f, node=node: f["node"] == node)
        page.keyboard.press("Shift+Enter")
        expect(page.locator(f'[data-node-id="{node}"]')).to_have_class(re.compile(r"\bselected\b"))
    expect(menu).to_be_hidden()
    page.keyboard.press("p")
    expect(page.locator('[data-link="n1-n4"]')).to_have_attribute("data-state", "cut")
    expect(page.locator('[data-link="n4-n5"]')).to_have_attribute("data-state", "ok")
    page.wait_for_function("() => location.pathname.startsWith('/s/')")
    kinds = [(c["type"], c.get("node") or c.get("from"), c.get("oneway")) for c in
             trace_commands(page, server)]
    assert kinds == [("crash", "n3", None), ("cut", a, True), ("heal", a, None),
                     ("partition", None, None)], kinds


def test_page_down_plays_to_the_next_caption_and_stops_there(open_page):
    page = open_lecture(open_page)
    page.evaluate("""() => { window.seen = []; const app = window.playground;
        const on = app.onFrame.bind(app);
        app.onFrame = (f) => { on(f); window.seen.push(f.t_ms); }; }""")
    start = page.evaluate("window.playground.store.t_ms")
    at = min(c["at_ms"] for c in presets()[PRESET]["narrative"] if c["at_ms"] > start)
    page.keyboard.press("PageDown")
    page.wait_for_function(f"""() => !window.playground.store.playing
        && window.playground.store.t_ms === {at}""", timeout=30_000)
    seen = page.evaluate("window.seen")
    assert any(start < t < at for t in seen), seen  # it played there; it did not jump
    assert max(seen) == at
    expect(page.locator("#caption")).to_be_visible()
    assert page.locator("#caption").get_attribute("data-diverged") is None
    page.keyboard.press("PageUp")
    page.wait_for_function(f"() => window.playground.store.t_ms < {at}")


def test_acting_against_the_script_marks_its_later_captions(open_page, server):
    page = open_lecture(open_page)
    page.keyboard.press("PageDown")
    page.wait_for_function("() => !window.playground.store.playing && window.playground.store.t_ms === 170")
    page.locator('[data-node-id="n1"] circle.body').click()
    page.locator("#menu").get_by_role("menuitem", name="Crash").click()
    expect(page.locator('[data-node-id="n1"]')).to_have_attribute("data-status", "crashed")
    expect(page.locator("#back")).to_be_visible()
    expect(page.locator('.tick.caption[data-diverged="true"]')).to_have_count(4)
    page.keyboard.press("PageDown")  # to the caption at 200 ms, written for the original run
    expect(page.locator("#caption")).to_have_attribute("data-diverged", "true")
    expect(page.locator("#caption")).to_contain_text("Scripted for the original run")
    page.evaluate("window.playground.control('step', 1500)")  # past the script's crash at 1500
    page.wait_for_function("() => window.playground.store.t_ms >= 1700")
    commands = trace_commands(page, server)
    assert [(c["type"], c["node"], c["at_ms"]) for c in commands] == [("crash", "n1", 170)]
    assert share.decode(page.evaluate("location.pathname"))["diverged_ms"] == 170

    page.locator("#back").click()  # back to the script, where it was left
    page.wait_for_function("() => window.playground.store.t_ms === 170")
    expect(page.locator("#back")).to_be_hidden()
    expect(page.locator('[data-node-id="n1"]')).to_have_attribute("data-status", "alive")
    expect(page.locator('.tick.caption[data-diverged="true"]')).to_have_count(0)


def test_node_actions_are_recorded_and_the_address_bar_replays_them(open_page, server):
    page = open_lecture(open_page)
    page.locator('[data-node-id="n4"] circle.body').click()
    page.locator("#menu").get_by_role("menuitem", name="Time out now").click()
    page.wait_for_function("() => location.pathname.startsWith('/s/')")
    page.locator('[data-node-id="n2"] circle.body').click()
    menu = page.locator("#menu")
    menu.locator("form.cmd", has=page.get_by_role("menuitem", name="Client request to this server")) \
        .locator("input").nth(1).fill("7")
    menu.get_by_role("menuitem", name="Client request to this server").click()
    page.wait_for_function("() => window.playground.links.share && "
                           "location.href === window.playground.links.share.split('?')[0] + location.search")
    commands = trace_commands(page, server)
    assert [(c["type"], c["node"]) for c in commands] == [("timeout_now", "n4"), ("put", "n2")]
    recorded = share.decode(page.evaluate("location.pathname"))["commands"]
    assert [c["type"] for c in recorded] == ["timeout_now", "put"]
    page.reload()
    page.wait_for_selector("[data-node-id]")
    page.evaluate("window.playground.control('step', 100)")
    page.wait_for_function("() => window.playground.store.events.some(e => e.kind === 'command')")


def test_the_help_lists_every_key_and_fits_the_projector(open_page):
    page = open_lecture(open_page)
    page.keyboard.press("?")
    help_ = page.locator("#help")
    expect(help_).to_be_visible()
    box = help_.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 720
    assert page.eval_on_selector("#help", "e => e.scrollHeight <= e.clientHeight + 1")
    text = help_.inner_text()
    for key in ("Space", "PageDown", "PageUp", "Tab", "Enter", "Esc", "P", "B", "D", "L", "?"):
        assert key in text, key
