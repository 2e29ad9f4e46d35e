"""The mini-app's entry for the app factory: crmbot.app._parts() calls init_app(app)."""
from __future__ import annotations

from flask import Flask

from . import api, auth, errors, imports, integration, pages


def init_app(app: Flask) -> None:
    errors.init_app(app)
    app.add_url_rule("/favicon.ico", "favicon", pages.favicon)
    app.register_blueprint(auth.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(integration.bp)
    app.register_blueprint(imports.pages)
    app.register_blueprint(imports.api)
