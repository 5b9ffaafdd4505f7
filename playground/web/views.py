"""HTTP routes: the playground page, share and watch links, and a small JSON API."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, request

from ..engine.errors import ScenarioError
from ..engine.trace import record_json
from ..models import MODELS
from ..scenarios import presets, share
from . import serializer

bp = Blueprint("playground", __name__)


def _flag(name: str) -> bool:
    return request.args.get(name, "") in ("1", "true", "yes")


def _page(share_string=None, watch=None):
    boot = {"share": share_string, "watch": watch, "embed": _flag("embed"),
            "lecture": _flag("lecture")}
    return render_template("play.html", boot=boot)


@bp.get("/")
def index():
    return _page()


@bp.get("/s/<path:share_string>")
def shared(share_string: str):
    """A share link: the page creates a new session replaying the scenario."""
    return _page(share_string=share_string)


@bp.get("/w/<session_id>")
def watch(session_id: str):
    """A watch link: the page joins a live session read-only."""
    return _page(watch=session_id)


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
    return jsonify({"ok": True, "share": path[len("/s/"):], "share_url": path})


@bp.get("/api/sessions/<session_id>/trace.json")
def api_trace(session_id: str):
    registry = current_app.extensions["playground"]
    session = registry.get(session_id)
    if session is None:
        if registry.elsewhere(session_id) is not None:
            return _error(409, f"session {session_id} runs on another server process; ask "
                               "that process for its trace")
        return _error(404, f"no session {session_id}")
    first, records = session.trace_records(current_app.config["MAX_TRACE_EXPORT"])
    return jsonify([record_json(first + i, rec) for i, rec in enumerate(records)])


@bp.errorhandler(ScenarioError)
def scenario_error(exc):
    return _error(400, str(exc))


@bp.app_errorhandler(404)
def not_found(exc):
    if request.path.startswith("/api/"):
        return _error(404, f"no such resource: {request.path[:120]}")
    return exc

