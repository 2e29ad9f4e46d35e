"""GET /healthz: is the database reachable, and Redis when one is configured."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    rt = current_app.extensions["crmbot"]
    db_ok = rt.db.ping()
    if rt.settings.crmbot_redis_url:
        try:
            redis_state = "ok" if rt.redis.ping() else "down"
        except Exception:
            redis_state = "down"
    else:
        redis_state = "in-process queue (no Redis configured)"
    healthy = db_ok and redis_state != "down"
    body = {"status": "ok" if healthy else "degraded", "database": "ok" if db_ok else "down",
            "redis": redis_state}
    return jsonify(body), 200 if healthy else 503
