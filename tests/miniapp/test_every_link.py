"""Every link a card can carry resolves for the person the card is sent to: every builder's card,
drawn for WeCom and for DingTalk (interactive card, ActionCard, work-notice markdown), and every
button and body link opened as the recipient. None may answer 404 or 403."""
from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

import pytest

from cards import builders, dingtalk, rows, wecom
from cards.links import ChatRef, app_link, chat_page_link, dashboard_link, home_link
from cards.model import Card
from storage.models import CaptureDraft, Customer, Lead, Task
from tests.factories import NOW
from tests.miniapp.helpers import login

URL = re.compile(r"https?://[^\s\"'()\]\[<>]+")


def _cards(app, data, playbook) -> list[tuple[str, Card]]:
    """(recipient, card) for every card builder, on real rows of the seed."""
    public = app.config["CRMBOT_PUBLIC_URL"] if "CRMBOT_PUBLIC_URL" in app.config else "http://localhost"
    db = app.extensions["crmbot"].db
    out: list[tuple[str, Card]] = []
    with db.transaction() as s:
        customer = s.get(Customer, data.c_rep1)
        task = s.get(Task, data.task_rep1)
        lead = s.get(Lead, data.lead_rep1)
        lead_task = Task(id=10_000, org_id=lead.org_id, kind="lead_assignment", subject_type="lead",
                         subject_id=lead.id, assignee_id=lead.assignee_id, title="新线索", dedupe_key="x",
                         status="open", escalation_level=0, due_at=NOW)
        escalated = Task(id=10_001, org_id=task.org_id, kind=task.kind, subject_type=task.subject_type,
                         subject_id=task.subject_id, customer_id=task.customer_id, assignee_id=task.assignee_id,
                         title=task.title, dedupe_key="y", status="open", escalation_level=1, due_at=NOW)
        draft = s.get(CaptureDraft, data.draft_rep1)
        made = [
            ("rep1", rows.customer_card(customer, None, playbook, public, NOW)),
            ("rep1", rows.task_card(task, playbook, public, with_due=True)),
            ("rep1", rows.task_card(lead_task, playbook, public)),
            ("manager", rows.task_card(escalated, playbook, public, actions=rows.ESCALATION_ACTIONS,
                                       source="升级给经理")),
            ("rep1", rows.draft_card(draft, public, title="名片识别结果", fields=[("姓名", "陈经理")],
                                     note="", actions=[("confirm", "确认创建")])),
            ("rep1", builders.new_contact_card("contact-1-ab", contact_name="陈经理",
                                               matches=[(customer.id, customer.name, "李明")],
                                               link=app_link(public, "sidebar?external_userid=wmEXAMPLE"))),
            ("director", builders.task_card("report-1", title="日报", detail="", fields=[], actions=[],
                                            link=dashboard_link(public), source="每日报告")),
            ("rep1", Card(card_id="digest-1-ab", title="待办汇总", link=home_link(public))),
            ("rep1", builders.chat_link_card(
                "link-1-ab", title="关联客户：华东机电项目群", text="本群还没有关联客户。",
                choices=[(customer.id, customer.name, "李明")],
                page_link=chat_page_link(public, "test-secret", ChatRef(customer.org_id, "dingtalk",
                                                                        "cidEVERYLINK==", "华东机电项目群")))),
        ]
    # the same cards after a tap: what stays on them must resolve too
    made += [(who, builders.done(card, "已处理 · 李明 03-04 10:00")) for who, card in made]
    return made


def _drawn(card: Card) -> list[str]:
    """Every http link in every way the card is drawn for either platform."""
    drawings = [wecom.render_card(card, 1000002, "rep1", default_url="http://localhost/app/"),
                dingtalk.render_interactive(card), dingtalk.render_action_card(card)[1],
                dingtalk.render_markdown(card)]
    found: set[str] = set()

    def walk(value) -> None:
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)
        elif isinstance(value, str):
            found.update(URL.findall(unquote(value)))
    walk(drawings)
    return sorted(u for u in found if urlsplit(u).hostname == "localhost")


def test_every_card_link_opens_for_its_recipient(app, data, playbook):
    checked = 0
    for who, card in _cards(app, data, playbook):
        client = app.test_client()
        login(client, who)
        links = _drawn(card)
        assert links, f"{card.title}: no link at all"
        for link in links:
            parts = urlsplit(link)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            r = client.get(path, follow_redirects=True)
            assert r.status_code == 200, f"{card.title} → {path} as {who}: {r.status_code}"
            checked += 1
    assert checked >= 16


@pytest.mark.parametrize("status", ["confirmed", "discarded"])
def test_a_draft_link_still_opens_after_the_draft_is_handled(app, data, database, status):
    with database.transaction() as s:
        draft = s.get(CaptureDraft, data.draft_rep1)
        draft.status = status
        draft.result_customer_id = data.c_rep1 if status == "confirmed" else None
    client = app.test_client()
    login(client, "rep1")
    r = client.get(f"/app/drafts/{data.draft_rep1}")
    if status == "confirmed":
        assert r.status_code == 302 and r.headers["Location"].endswith(f"/app/customers/{data.c_rep1}")
    else:
        assert r.status_code == 200 and "已处理" in r.get_data(as_text=True)


def test_another_reps_draft_link_is_refused(app, data):
    client = app.test_client()
    login(client, "rep1")
    assert client.get(f"/app/drafts/{data.draft_rep2}").status_code in (403, 404)
