"""Security headers on every response, and the framing policy of embed pages."""

from __future__ import annotations

import pytest

from playground import create_app
from playground.web.headers import POLICY, embed_ancestors

PATHS = ["/", "/w/AAAAAAAAAAAAAAAAAAAAAA", "/s/1.damaged", "/api/presets", "/api/models",
         "/api/sessions/nosuchsession/trace.json", "/qr.svg?text=x", "/static/css/play.css",
         "/static/js/main.js", "/nowhere", "/socket.io/?EIO=4&transport=polling",
         "/socket.io/?EIO=9&transport=nonsense"]


def headers_of(http, path):
    response = http.get(path)
    response.close()
    return response.headers


@pytest.mark.parametrize("path", PATHS)
def test_every_response_carries_the_security_headers(http, path):
    headers = headers_of(http, path)
    assert headers["Content-Security-Policy"] == f"{POLICY}; frame-ancestors 'none'"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"


def test_the_policy_allows_only_this_origin():
    directives = dict(d.strip().split(" ", 1) for d in POLICY.split(";"))
    assert directives["default-src"] == "'self'" and directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'" and directives["object-src"] == "'none'"
    assert "unsafe" not in POLICY and "http" not in POLICY and "data:" not in POLICY


@pytest.mark.parametrize("path", ["/?embed=1", "/w/AAAAAAAAAAAAAAAAAAAAAA?embed=1",
                                  "/s/1.damaged?lecture=1&embed=true"])
def test_embed_pages_may_be_framed_by_the_configured_ancestors(http, path):
    headers = headers_of(http, path)
    assert headers["Content-Security-Policy"].endswith("; frame-ancestors *")
    assert "X-Frame-Options" not in headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers_of(http, path.replace("embed=", "embedded="))["X-Frame-Options"] == "DENY"


def test_embed_ancestors_setting(tmp_path):
    (tmp_path / "play.html").write_text("x")
    app = create_app({"ASYNC": "threading", "TEMPLATE_FOLDER": str(tmp_path), "TESTING": True,
                      "DATA_DIR": str(tmp_path),
                      "EMBED_ANCESTORS": "https://slides.example.org, 'self'"})
    policy = headers_of(app.test_client(), "/?embed=1")["Content-Security-Policy"]
    assert policy.endswith("; frame-ancestors https://slides.example.org 'self'")
    assert embed_ancestors("") == "'none'"
    assert embed_ancestors(["https://*.example.org", "'none'"]) == "https://*.example.org 'none'"
    for bad in ("https://x.org; script-src *", "'unsafe-inline'", "a'b", "https://x.org/<b>"):
        with pytest.raises(ValueError, match="EMBED_ANCESTORS"):
            embed_ancestors(bad)
