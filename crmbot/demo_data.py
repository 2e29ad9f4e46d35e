"""The demo org: a director, a manager and three reps (platform user ids director, manager, rep1,
rep2, rep3) with customers, leads, opportunities and follow-ups in realistic Chinese.
Everything goes through the domain services, so the demo data obeys the same rules as real data."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.playbook import Playbook
from storage import customers, followups, leads, links, opportunities
from storage.customers import ContactInput, CustomerInput
from storage.followups import FollowUpInput
from storage.models import Customer, Org, Team, User

DEMO_WECOM_CORP_ID = "wwdemo0000000001"
DEMO_DINGTALK_CORP_ID = "dingdemo000000001"

CUSTOMERS = [  # owner, kind, name, credit code, contact, title, mobile, industry, grade, days since contact
    ("rep1", "company", "上海华东机电设备有限公司", "91310115MA1H7XQ819", "王建国", "采购总监", "13816620001", "机械设备", "A", 3),
    ("rep1", "company", "苏州精工模具有限公司", None, "陈晓燕", "总经理", "13962150002", "制造业", "B", 35),
    ("rep1", "person", "刘女士", None, "刘婷", None, "13501230003", "零售", "C", 12),
    ("rep2", "company", "杭州西湖智能科技有限公司", "91330106MA2AXKJ952", "赵磊", "CTO", "13867140004", "软件", "A", 1),
    ("rep2", "company", "宁波东海贸易有限公司", None, "孙丽", "采购经理", "13705740005", "贸易", "B", 41),
    ("rep3", "company", "南京金陵化工集团有限公司", "91320100134886021J", "周强", "副总裁", "13913850006", "化工", "A", 8),
    ("rep3", "company", "合肥新能源汽车配件有限公司", None, "吴敏", "项目经理", "13955110007", "汽车", "B", 50),
]

# Follow-ups promised this many days ago and never made: the first scan reminds the rep and
# escalates to the manager (约定的跟进已逾期), so the manager's side has something to 催办 at once.
OVERDUE_PROMISES = {"刘女士": 8, "宁波东海贸易有限公司": 8}

# The reps' WeCom customers (外部联系人) the simulator's 客户聊天 opens: owner, external_userid, the
# customer's WeChat name, the company the rep noted, the mobile the rep noted, and the customer the
# chat is already linked to (None: the sidebar offers 关联客户 / 新建客户并关联).
DEMO_CHATS = [
    ("rep1", "wmDemoChen0001", "陈先生", "华东机电", "13816620011", None),
    ("rep1", "wmDemoChen0002", "陈晓燕", "苏州精工模具", "13962150002", "苏州精工模具有限公司"),
    ("rep1", "wmDemoHuang003", "黄总", "无锡新锐自动化", "13771230003", None),
    ("rep2", "wmDemoZhao0004", "赵磊", "西湖智能", "13867140004", "杭州西湖智能科技有限公司"),
    ("rep2", "wmDemoSun00005", "孙经理", "东海贸易", "13705740015", None),
    ("rep3", "wmDemoZhou0006", "周强", "金陵化工", "13913850006", "南京金陵化工集团有限公司"),
]

LEADS = [  # source, name, company, mobile, industry, budget, minutes ago
    ("官网表单", "郑先生", "无锡恒达机械有限公司", "13812340011", "制造业", 300000, 25),
    ("百度推广", "冯女士", "常州远景包装有限公司", "13912340012", "制造业", 80000, 180),
    ("展会", "蒋总", "上海浦江重工股份有限公司", "13612340013", "机械设备", 1200000, 5),
]


def seed_demo(session: Session, playbook: Playbook, now: datetime, platform: str = "wecom") -> Org:
    """Create the demo org once; calling it again returns the existing one. Every user has a WeCom
    and a DingTalk id; `platform` is where they are reached until they write on the other one."""
    existing = session.scalars(select(Org).where(Org.wecom_corp_id == DEMO_WECOM_CORP_ID)).first()
    if existing is not None:
        return existing
    org = Org(name="演示公司·华东工业品", wecom_corp_id=DEMO_WECOM_CORP_ID,
              dingtalk_corp_id=DEMO_DINGTALK_CORP_ID)
    session.add(org)
    session.flush()
    region = Team(org_id=org.id, name="华东大区", kind="region")
    session.add(region)
    session.flush()
    group = Team(org_id=org.id, name="华东一组", parent_id=region.id)
    key_accounts = Team(org_id=org.id, name="大客户组", parent_id=region.id)
    session.add_all([group, key_accounts])
    session.flush()

    def user(uid, name, role, team, boss=None, started=date(2025, 6, 1)):
        u = User(org_id=org.id, name=name, role=role, team_id=team.id, wecom_userid=uid,
                 dingtalk_userid=uid, reports_to_id=boss.id if boss else None, start_date=started,
                 preferred_platform=platform)
        session.add(u)
        session.flush()
        return u

    director = user("director", "赵总监", "director", region)
    manager = user("manager", "钱经理", "manager", region, director)
    users = {"director": director, "manager": manager,
             "rep1": user("rep1", "李明", "rep", group, manager),
             "rep2": user("rep2", "王芳", "rep", group, manager),
             "rep3": user("rep3", "张伟", "rep", key_accounts, manager, started=now.date() - timedelta(days=1))}

    for owner, kind, name, code, contact, title, mobile, industry, grade, days in CUSTOMERS:
        rep = users[owner]
        customer = customers.create_customer(session, rep, CustomerInput(
            kind=kind, name=name, credit_code=code, mobile=mobile if kind == "person" else None,
            industry=industry, grade=grade, source="老客户转介绍",
            contacts=[ContactInput(name=contact, title=title, mobile=mobile)]),
            playbook, now=now - timedelta(days=days + 30))
        promised = now - timedelta(days=OVERDUE_PROMISES[name]) if name in OVERDUE_PROMISES else now + timedelta(days=2)
        followups.log_followup(session, rep, FollowUpInput(
            customer_id=customer.id, tags=["已拜访"] if days > 30 else ["已报价"],
            note="介绍了新产品线" if days > 30 else "报价单已发邮箱",
            occurred_at=now - timedelta(days=days), next_followup=promised.date()),
            playbook, now=now - timedelta(days=days))
        if kind == "company" and grade == "A":
            opp = opportunities.create_opportunity(session, rep, customer.id, f"{name[:6]}年度采购项目",
                                                   playbook, amount=200000 + 100000 * days,
                                                   now=now - timedelta(days=20 + days))
            opp.stage_entered_at = now - timedelta(days=20 + days)

    for source, name, company, mobile, industry, budget, minutes in LEADS:
        leads.create_lead(session, org.id, leads.LeadInput(
            source=source, name=name, company=company, mobile=mobile, industry=industry,
            budget=budget, external_ref=f"demo-{mobile}"), now=now - timedelta(minutes=minutes))
        # left "new": the first scan offers each to a rep with a card, and the claim timer starts
        # when that card can be seen (working time), as for a lead from the webhook
    return org


def add_demo_chats(session: Session, fake_wecom, now: datetime) -> None:
    """Register DEMO_CHATS with the demo's fake WeCom (what externalcontact/get answers; kept in
    memory, so on every start) and link the ones that are linked (once: a link is kept in the store)."""
    org = session.scalars(select(Org).where(Org.wecom_corp_id == DEMO_WECOM_CORP_ID)).one()
    for owner_id, external_userid, name, company, mobile, linked_to in DEMO_CHATS:
        fake_wecom.add_external_contact(external_userid, name, follow_user=[{
            "userid": owner_id, "remark": f"{name}（{company}）", "remark_corp_name": company,
            "remark_mobiles": [mobile], "createtime": int(now.timestamp())}])
        if linked_to is None:
            continue
        owner = session.scalars(select(User).where(User.org_id == org.id, User.wecom_userid == owner_id)).one()
        customer = session.scalars(select(Customer).where(Customer.org_id == org.id,
                                                          Customer.name == linked_to)).one()
        links.link_chat(session, owner, "wecom", external_userid, customer.id, now=now)
