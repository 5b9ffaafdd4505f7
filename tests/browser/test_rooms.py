"""A lecture room in real browsers: a presenter, an audience that follows every run it
starts (one member on a phone), a QR code of the room link, and a live question. The
pictures of docs/lecture.md's room section (docs/room-*.png) are taken here."""

from __future__ import annotations

import re
import time
import urllib.request
from pathlib import Path

import pytest
import segno
from playwright.sync_api import expect

from tests.web.test_links import decode_modules

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def session_of(page) -> str:
    return page.evaluate("window.playground.conn.session")


def room_url(page) -> str:
    page.wait_for_function("() => document.getElementById('room').dataset.url.includes('/r/')")
    return page.locator("#room").get_attribute("data-url")


@pytest.fixture
def room(open_page, server):
    """A presenter on raft-election and three members of its room (the last on a phone)."""
    presenter = open_page("/?preset=raft-election")
    presenter.wait_for_selector("[data-node-id]")
    url = room_url(presenter)
    assert re.fullmatch(re.escape(server) + r"/r/[A-Za-z0-9_-]{22,}", url)
    audience = [open_page(url[len(server):]) for _ in range(2)]
    audience.append(open_page(url[len(server):], **PHONE))
    for page in audience:
        page.wait_for_function(f"() => window.playground.conn.session === '{session_of(presenter)}'")
        page.wait_for_selector("[data-node-id]")
    return presenter, audience


def follows_within(audience, session: str, seconds: float) -> float:
    """How long until every audience page shows ``session`` (asserted under ``seconds``)."""
    started = time.monotonic()
    for page in audience:
        left = max(0.05, seconds - (time.monotonic() - started))
        page.wait_for_function(f"() => window.playground.conn.session === '{session}' && "
                               "window.playground.store.order.length > 0",
                               timeout=left * 1000)
    return time.monotonic() - started


def test_the_audience_follows_a_preset_switch_and_a_variant_switch(room):
    presenter, audience = room
    reloads = [page.evaluate("performance.timeOrigin") for page in audience]
    first = session_of(presenter)
    presenter.select_option("#preset", "raft-oneway-cut")
    presenter.wait_for_function(f"() => window.playground.conn.session !== '{first}' && "
                                "document.getElementById('room').dataset.url !== ''")
    follows_within(audience, session_of(presenter), 2.0)
    for page in audience:
        expect(page.locator("#toast")).to_contain_text("now: ")
    second = session_of(presenter)
    presenter.locator("#variant-prevote").select_option("true")
    presenter.wait_for_function(f"() => window.playground.conn.session !== '{second}'")
    follows_within(audience, session_of(presenter), 2.0)
    expect(audience[0].locator("#toast")).to_contain_text("prevote")
    assert [page.evaluate("performance.timeOrigin") for page in audience] == reloads
    late = audience[0].context.new_page()
    late.goto(room_url(presenter))
    late.wait_for_function(f"() => window.playground.conn.session === '{session_of(presenter)}'")
    late.close()


def test_a_phone_shows_the_stage_and_caption_without_sideways_scrolling(room, server):
    presenter, audience = room
    phone = audience[2]
    phone.wait_for_selector("#caption:not([hidden])")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    stage = phone.locator("#stage").bounding_box()
    assert stage["width"] <= 390 and stage["height"] > 300
    for hidden in ("#play", "#step", "#fork", "#preset", "#side", "#ask-open", "#export-svg",
                   "#find", "#compare"):
        expect(phone.locator(hidden)).to_be_hidden()
    expect(phone.locator("#role")).to_have_text("watching")
    # a run that breaks an invariant: the banner shows on the phone, within its width
    first = session_of(presenter)
    presenter.select_option("#preset", "raft-broken-multiple-votes")
    presenter.wait_for_function(f"() => window.playground.conn.session !== '{first}'")
    follows_within([phone], session_of(presenter), 2.0)
    presenter.evaluate("window.playground.control('speed', 'max')"
                       ".then(() => window.playground.control('play'))")
    banner = phone.locator("#banner")
    expect(banner).to_be_visible(timeout=20_000)
    expect(banner).to_contain_text("election_safety")
    assert banner.bounding_box()["width"] <= 390
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390


def test_the_qr_code_of_the_room_decodes_to_the_room_link(room):
    presenter, audience = room
    url = room_url(presenter)
    presenter.keyboard.press("q")
    qr = presenter.locator("[data-qr] svg")
    expect(qr).to_be_visible()
    assert presenter.locator("[data-qr]").get_attribute("data-qr") == url
    svg = presenter.locator("[data-qr]").inner_html()
    matrix = [[bool(v) for v in row] for row in segno.make(url, error="m").matrix]
    assert decode_modules(svg) == matrix
    box = qr.bounding_box()
    assert box["width"] >= 500  # readable at the back of a room at 1440x900
    presenter.set_viewport_size({"width": 1920, "height": 1080})
    expect(qr).to_be_visible()
    presenter.wait_for_timeout(300)
    presenter.screenshot(path=str(DOCS / "room-1920.png"))
    presenter.keyboard.press("Escape")
    expect(presenter.locator("#links-dialog")).to_be_hidden()
    # the share button gives the short link, the long one is still offered
    presenter.wait_for_function("() => /\\/s\\/[a-z2-7]{12}$/.test("
                                "document.getElementById('share').dataset.url)")
    presenter.locator("#share").click()
    expect(presenter.get_by_role("button", name="Copy the link that works without this server")) \
        .to_be_visible()
    short = presenter.locator("#share").get_attribute("data-url")
    assert urllib.request.urlopen(short, timeout=10).status == 200


def test_three_answers_are_tallied_and_a_second_from_one_member_is_refused(room):
    presenter, audience = room
    presenter.locator("#ask-open").click()
    presenter.locator("#ask-question").fill("Which server becomes the next leader?")
    presenter.locator("#ask-choices").fill("n2, n3, n4, n5")
    presenter.locator("#ask-answer").fill("n4")
    presenter.get_by_role("button", name="Ask the room").click()
    for page, choice in zip(audience, ("n4", "n4", "n2")):
        page.locator("[data-ask]").get_by_role("button", name=choice, exact=True).click()
        expect(page.locator("#ask")).to_contain_text(f"you answered {choice}")
    tally = presenter.locator("[data-tally]")
    expect(tally.locator('[data-choice="n4"]')).to_have_attribute("data-count", "2")
    expect(tally.locator('[data-choice="n2"]')).to_have_attribute("data-count", "1")
    expect(tally.locator('[data-choice="n3"]')).to_have_attribute("data-count", "0")
    again = audience[0].evaluate("window.playground.ask.answer('n3')")
    assert again["ok"] is False and "already" in again["error"]
    expect(tally.locator('[data-choice="n3"]')).to_have_attribute("data-count", "0")
    presenter.get_by_role("button", name="Reveal").click()
    for page in audience:
        expect(page.locator('[data-tally] [data-choice="n4"]')).to_have_class(
            re.compile(r"\bcorrect\b"))


def test_a_caption_that_asks_puts_its_question_to_the_room(room):
    presenter, audience = room
    presenter.evaluate("window.playground.control('speed', 'max')"
                       ".then(() => window.playground.control('play', 1500))")
    expect(audience[2].locator("[data-ask]")).to_contain_text("A follower times out")
    expect(presenter.locator("[data-tally] [data-choice]")).to_have_count(3)
    assert "answer" not in audience[0].evaluate("window.playground.ask.question")
    # One member answers; the phone has not yet: the pictures of the presenter's tally
    # and of the question on a phone.
    audience[0].locator("[data-ask]").get_by_role(
        "button", name="A follower times out and wins term 2").click()
    expect(presenter.locator('[data-tally] [data-choice][data-count="1"]')).to_have_count(1)
    presenter.set_viewport_size({"width": 1280, "height": 720})
    for page in (presenter, audience[2]):
        expect(page.locator('[data-node-id="n1"]')).to_have_attribute("data-status", "crashed")
        page.mouse.move(1, 1)
        expect(page.locator("#toast")).not_to_have_class(re.compile(r"\bshow\b"))
        page.wait_for_timeout(400)  # the panels, labels and the toast's fade settle
    presenter.screenshot(path=str(DOCS / "room-1280.png"))
    audience[2].screenshot(path=str(DOCS / "room-390.png"))
