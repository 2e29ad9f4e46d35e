"""The app factory: one Flask app wires the platform callbacks, the mini-app and its API.
Each part owns its own setup through init_app(app) (Redash's create_app idea)."""
from __future__ import annotations

import secrets

from flask import Flask

from config.settings import Settings, load_settings
from crmbot.runtime import Runtime
from jobs.runtime import set_runtime

from . import security


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Flask:
    settings = settings or (runtime.settings if runtime else load_settings())
    security.require_secret_key(settings)  # the demo alone may make up a key
    if not settings.crmbot_secret_key:
        # the demo's made-up key, in the settings its in-process worker reads too: the bot signs
        # the group page links (cards/links.py) that the pages then check with the same key
        settings.crmbot_secret_key = secrets.token_hex(32)
    runtime = runtime or Runtime.build(settings)
    set_runtime(runtime)

    app = Flask(__name__, static_folder=None)
    app.config.update(
        SECRET_KEY=settings.crmbot_secret_key,
        MAX_CONTENT_LENGTH=settings.crmbot_max_upload_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not settings.crmbot_demo,
        JSON_AS_ASCII=False,
        CRMBOT_DEMO=settings.crmbot_demo,
    )
    app.json.ensure_ascii = False
    app.extensions["crmbot"] = runtime

    from . import health
    app.register_blueprint(health.bp)
    security.init_app(app)
    for part in _parts(settings):
        part.init_app(app)
    return app


def _parts(settings: Settings):
    """The modules that register routes; demo-only ones exist only in demo mode."""
    import bot.http
    import miniapp.views
    parts = [bot.http, miniapp.views]
    if settings.crmbot_demo:
        import crmbot.devtools
        parts.append(crmbot.devtools)
    return parts
