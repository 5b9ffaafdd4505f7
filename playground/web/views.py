"""HTTP routes: the playground page, share, short and watch links, QR codes, a JSON API."""

from __future__ import annotations

import json

import segno
from flask import Blueprint, Response, current_app, jsonify, render_template, request

from ..engine.errors import ScenarioError
from ..engine.trace import record_json
from ..models import MODELS
from ..scenarios import links, presets, share
from ..scenarios.schema import parse
from . import serializer
from .headers import flag

bp = Blueprint("playground", __name__)


def _flag(name: str) -> bool:
    return flag(request.args.get(name))


def _page(share_string=None, watch=None, room=None):
    boot = {"share": share_string, "watch": watch, "embed": _flag("embed"),
            "lecture": _flag("lecture")}
    if room is not None:
        boot["room"] = room
    return render_template("play.html", boot=boot)


@bp.get("/")
def index():
    return _page()


@bp.get("/s/<path:share_string>")
def shared(share_string: str):
    """A share link: the page creates a new session replaying the scenario. A short link
    is looked up in the store first; an unknown one answers a 404 page that says so."""
    if links.is_short_id(share_string):
        try:
            scenario = links.resolve(_store(), share_string)
        except links.UnknownLink as exc:
            return render_template("missing.html", message=str(exc)), 404
        return _page(share_string=share.pack(scenario))
    return _page(share_string=share_string)


def _store():
    return current_app.extensions["playground_store"]


@bp.post("/api/links")
def api_links():
    """Keep a scenario (a share string, or a preset's name) and answer its short link."""
    limit = current_app.config["MAX_PAYLOAD_BYTES"]
    if (request.content_length or 0) > limit:
        return _error(413, f"the request body is larger than {limit} bytes")
    try:  # Werkzeug's get_json lets a RecursionError of a deeply nested body through
        body = parse(request.get_data(cache=False)[:limit + 1] or b"null", "the request body")
    except ScenarioError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("share"), str):
        return _error(400, 'send {"share": "<share string>"}')
    registry = current_app.extensions["playground"]
    if not registry.limits.take(registry.address(request.environ), "link",
                                current_app.config["LINKS_PER_MINUTE"], period=60):
        return _error(429, "too many short links from this address; try again in a minute")
    scenario = share.decode(body["share"])
    sid = links.save(_store(), scenario)
    return jsonify({"ok": True, "id": sid, "url": f"/s/{sid}",
                    "share_url": f"/s/{share.pack(scenario)}"})


@bp.get("/qr.svg")
def qr_svg():
    """A QR code of ``text`` (a room or share link) as SVG, drawn here: no other host."""
    text = request.args.get("text", "")
    if not text or len(text) > 2000:
        return _error(400, "qr.svg?text= takes 1 to 2000 characters")
    code = segno.make(text, error="m")
    svg = code.svg_inline(scale=8, border=4, dark="#000", light="#fff", omitsize=True)
    return Response(svg, mimetype="image/svg+xml",
                    headers={"Cache-Control": "public, max-age=86400"})


@bp.get("/w/<session_id>")
def watch(session_id: str):
    """A watch link: the page joins a live session read-only."""
    return _page(watch=session_id)


@bp.get("/r/<room>")
def room(room: str):
    """A room link: the page follows whatever session the room's presenter runs."""
    if current_app.extensions["playground_rooms"].get(room) is None:
        return render_template("missing.html", message=f"no room {room[:64]}: it was "
                               "never opened on this server, it expired unused "
                               "(ROOM_TTL_SECONDS), or its store was reset",
                               room=True), 404
    return _page(room=room)


def _error(status: int, message: str):
    response = jsonify({"ok": False, "error": message})
    response.status_code = status
    return response


@bp.get("/api/presets")
def api_presets():
    return jsonify([{"name": name, "model": s["model"], "title": s["title"],
                     "description": s.get("description", ""), "claims": s["claims"],
                     "expected": s["expected"]} for name, s in presets().items()])


@bp.get("/api/models")
def api_models():
    return jsonify({name: serializer.model_info(cls) for name, cls in sorted(MODELS.items())})


@bp.get("/api/share")
def api_share():
    name = request.args.get("scenario", "")
    if name not in presets():
        return _error(404, f"no preset named '{name[:80]}'")
    path = share.link_path(presets()[name])
    sid = links.save(_store(), presets()[name])
    return jsonify({"ok": True, "share": path[len("/s/"):], "share_url": path,
                    "short_url": f"/s/{sid}"})


EXPORT_CHUNK = 2000  # trace records encoded between two turns of the event loop


@bp.get("/api/sessions/<session_id>/trace.json")
@bp.get("/api/sessions/<session_id>/trace.ndjson")
def api_trace(session_id: str):
    """Every trace record of a session up to now, streamed in chunks: a JSON array, or
    one record per line (``.ndjson``). Needs the session's token (``?token=`` or the
    header ``X-Session-Token``); each client address may start TRACE_EXPORTS_PER_MINUTE."""
    registry = current_app.extensions["playground"]
    session = registry.get(session_id)
    if session is None:
        if registry.elsewhere(session_id) is not None:
            return _error(409, f"session {session_id} runs on another server process; ask "
                               "that process for its trace")
        return _error(404, f"no session {session_id}")
    token = request.args.get("token") or request.headers.get("X-Session-Token")
    if not token:
        return _error(401, "exporting a session's trace needs its token (?token=...)")
    owner = getattr(session, "leader", session)  # run b of a pair: run a's token
    if not owner.token_ok(token):
        return _error(403, f"wrong token for session {session_id}")
    if not registry.limits.take(registry.address(request.environ), "trace",
                                current_app.config["TRACE_EXPORTS_PER_MINUTE"], period=60):
        return _error(429, "too many trace exports from this address; try again in a minute")
    ndjson = request.path.endswith(".ndjson")
    body = _trace_chunks(session.trace_copy(), ndjson, registry.socketio.sleep)
    return Response(body, mimetype="application/x-ndjson" if ndjson else "application/json")


def _trace_chunks(trace, ndjson: bool, pause):
    """The records of ``trace`` as JSON text, ``EXPORT_CHUNK`` records a piece, with a
    turn of the event loop (``pause(0)``) after each piece."""
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    n = len(trace)
    if not ndjson:
        yield "["
    for start in range(0, n, EXPORT_CHUNK):
        end = min(n, start + EXPORT_CHUNK)
        lines = [dumps(record_json(i, trace[i])) for i in range(start, end)]
        if ndjson:
            yield "\n".join(lines) + "\n"
        else:
            yield ("," if start else "") + ",\n".join(lines)
        pause(0)
    if not ndjson:
        yield "]\n"


@bp.errorhandler(ScenarioError)
def scenario_error(exc):
    return _error(400, str(exc))


@bp.app_errorhandler(404)
def not_found(exc):
    if request.path.startswith("/api/"):
        return _error(404, f"no such resource: {request.path[:120]}")
    return exc

