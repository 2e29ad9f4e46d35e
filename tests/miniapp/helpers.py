"""A mini-app over the test database, and a small sales team's week to look at (shared by the
API tests, the browser tests and bench/bench_pages.py)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask import Flask

from config.clock import ManualClock
from config.settings import load_settings
from crmbot.app import create_app
from crmbot.runtime import Runtime
from jobs.queue import InlineQueue
from storage import customers, drafts, followups, leads, opportunities, tasks
from storage.models import Base
from storage.validators import credit_code_check_char
from tests.factories import NOW, World, build_world

CSRF = {"X-Requested-With": "crmbot"}


def credit_code(first17: str) -> str:
    """A valid unified social credit code: the 17 characters plus their check character."""
    return first17 + credit_code_check_char(first17)


class FakeWeCom:
    """Stands in for bot.wecom.client.WeComClient's login and JS-SDK calls."""

    def __init__(self):
        self.codes: dict[str, str] = {}
        self.contacts: dict[str, dict] = {}  # external_userid → externalcontact/get answer
        self.jsapi_ticket = "corp-ticket-1"
        self.sent: list[dict] = []
        self.agent_ticket = "agent-ticket-1"

    def get_user_id_by_code(self, code: str) -> str:
        from bot.errors import PermanentError
        if code not in self.codes:
            raise PermanentError("invalid code", code="40029")
        return self.codes.pop(code)  # single use, like WeCom's

    def get_jsapi_ticket(self) -> str:
        return self.jsapi_ticket

    def get_external_contact(self, external_userid: str) -> dict:
        from bot.errors import PermanentError
        if external_userid not in self.contacts:
            raise PermanentError("invalid external_userid", code="84061")
        return self.contacts[external_userid]

    def get_agent_ticket(self) -> str:
        return self.agent_ticket

    def send(self, touser: str, msg: dict):
        """Messages the mini-app's actions cause (an approval card to a manager)."""
        from bot.wecom.client import SendResult
        self.sent.append({"touser": touser, **msg})
        return SendResult(msgid="m1", response_code=None, invalid_users=())


class FakeDingTalk:
    def __init__(self):
        self.codes: dict[str, str] = {}

    def get_user_id_by_auth_code(self, code: str) -> str:
        from bot.errors import PermanentError
        if code not in self.codes:
            raise PermanentError("invalid auth code")
        return self.codes.pop(code)


def make_app(database, playbook, redis_conn, *, dev_login: bool = True, **overrides) -> Flask:
    """The real app factory, outside demo mode; dev-login switched on by the test-only flag."""
    Base.metadata.create_all(database.engine)  # no-op on the migrated PostgreSQL schema
    settings = load_settings(crmbot_database_url=database.url, crmbot_secret_key="test-secret",
                             wecom_corp_id="wwcorp001", wecom_agent_id=1000002,
                             dingtalk_corp_id="dingcorp001", crmbot_public_url="http://localhost",
                             **overrides)
    runtime = Runtime(settings, playbook, database, redis_conn, InlineQueue(), clock=ManualClock(NOW, running=True))
    runtime.clients["wecom"] = FakeWeCom()
    runtime.clients["dingtalk"] = FakeDingTalk()
    app = create_app(settings, runtime)
    app.config.update(TESTING=True, CRMBOT_DEV_LOGIN=dev_login, SESSION_COOKIE_SECURE=False)
    return app


def login(client, platform_uid: str, corp: str = "wwcorp001"):
    return client.get(f"/app/dev-login?user={platform_uid}&corp={corp}")


@dataclass
class Seed:
    world: World
    c_rep1: int          # rep1's company customer, complete
    c_rep1_incomplete: int
    c_rep2: int          # rep2's customer
    c_rep3: int          # rep3's (team B) customer
    task_rep1: int
    task_rep2: int
    draft_rep1: int
    draft_rep2: int
    opp_rep1: int
    lead_rep1: int


def seed(database, playbook, now: datetime | None = None) -> Seed:
    now = now or NOW
    with database.transaction() as s:
        w = build_world(s)
        company = customers.CustomerInput
        contact = customers.ContactInput
        c1 = customers.create_customer(s, w.rep1, company(
            kind="company", name="苏州精工机械有限公司", credit_code=credit_code("91320500MA1M12345"),
            contacts=[contact(name="周工", mobile="13800138001")]), playbook, now=now)
        c1b = customers.create_customer(s, w.rep1, company(kind="company", name="无锡华润包装"),
                                        playbook, now=now)
        c2 = customers.create_customer(s, w.rep2, company(kind="person", name="王建国", mobile="13900139002"),
                                       playbook, now=now)
        c3 = customers.create_customer(s, w.rep3, company(kind="company", name="上海大客户集团"),
                                       playbook, now=now)
        # a follow-up from earlier in the week, so the timeline is not empty (before the tasks: it would close them)
        followups.log_followup(s, w.rep1, followups.FollowUpInput(
            customer_id=c1.id, tags=["已拜访"], note="初次见面", channel="app",
            occurred_at=now - timedelta(days=2)), playbook, now=now - timedelta(days=2))
        t1, _ = tasks.ensure_task(s, tasks.TaskSpec(
            org_id=w.org.id, kind="followup_due", subject_type="customer", subject_id=c1.id,
            customer_id=c1.id, assignee_id=w.rep1.id, title="回访苏州精工", dedupe_key="t:1",
            due_at=now - timedelta(days=1)), now=now)
        t2, _ = tasks.ensure_task(s, tasks.TaskSpec(
            org_id=w.org.id, kind="followup_due", subject_type="customer", subject_id=c2.id,
            customer_id=c2.id, assignee_id=w.rep2.id, title="回访王建国", dedupe_key="t:2",
            due_at=now - timedelta(days=2)), now=now)
        d1, _ = drafts.create_draft(s, w.rep1, "customer", {
            "name": "陈经理", "company": "杭州新锐科技有限公司", "mobile": "13700137003", "title": "采购经理"})
        d2, _ = drafts.create_draft(s, w.rep2, "customer", {"name": "刘总", "company": "南京某公司"})
        opp = opportunities.create_opportunity(s, w.rep1, c1.id, "数控机床采购", playbook, amount=500000, now=now)
        lead, _ = leads.create_lead(s, w.org.id, leads.LeadInput(
            source="官网表单", name="郑先生", company="无锡恒达机械有限公司", mobile="13812340011",
            industry="制造业"), now=now - timedelta(hours=3))
        rep = leads.assign(s, lead, playbook, now=now - timedelta(hours=3))
        assert rep is not None
        if rep.id != w.rep1.id:  # make the first lead rep1's, whatever the round robin picked
            lead.assignee_id = w.rep1.id
        return Seed(w, c1.id, c1b.id, c2.id, c3.id, t1.id, t2.id, d1.id, d2.id, opp.id, lead.id)
