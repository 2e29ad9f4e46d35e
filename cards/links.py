"""Every link a card carries points into the mini-app; one function builds them, so a page that
moves is changed in one place (tests open every link a builder can make)."""
from __future__ import annotations


def app_link(public_url: str, path: str = "") -> str:
    return f"{public_url.rstrip('/')}/app/{path.lstrip('/')}"


def customer_link(public_url: str, customer_id: int) -> str:
    return app_link(public_url, f"customers/{customer_id}")


def draft_link(public_url: str, draft_id: int) -> str:
    return app_link(public_url, f"drafts/{draft_id}")


def home_link(public_url: str) -> str:
    return app_link(public_url)


def dashboard_link(public_url: str, **filters: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in filters.items() if v)
    return app_link(public_url, "dashboard" + (f"?{query}" if query else ""))
