"""The dashboard page renders each section once, and its <title> is text (a merge once put the
data-health table inside the title block)."""
from __future__ import annotations

import re

from tests.miniapp.helpers import login


def test_dashboard_title_is_text_and_data_health_appears_once(app, data):
    client = app.test_client()
    login(client, "manager")
    html = client.get("/app/dashboard").get_data(as_text=True)
    title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
    assert "<" not in title and "团队看板" in title
    assert html.count('id="data-health"') <= 1
