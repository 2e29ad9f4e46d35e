"""The simulator's own API on an in-process demo app (the walk in tests/e2e/test_walk.py drives the
same pages in Chromium on a real `crmbot demo`): 客户聊天 lists a rep's WeCom customers with the
sidebar they open, card links open as the simulated user, a bot's chart is shown, an empty chat
says where the user's reminders go, and 今晚 jumps into quiet hours."""
from __future__ import annotations

import io
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import delete, select

from bot.outbound import HELD
from cards import builders, wecom
from config.clock import ManualClock
from config.settings import load_settings
from crmbot.app import create_app
from crmbot.demo_data import DEMO_CHATS, add_demo_chats, seed_demo
from crmbot.runtime import Runtime
from jobs.runtime import set_runtime
from storage import messaging
from storage.models import ChatLink, OutboxMessage
from tests.jobs.helpers import RecordingQueue
from tests.stack import DINGTALK_KEYS, WECOM_KEYS

PUBLIC = "http://crmbot.test"


@pytest.fixture
def demo_app(database, redis_conn, playbook):
    """A demo-mode app at 2026-12-01 09:30 (a Tuesday), seeded as `crmbot demo` seeds, whose
    users are reached on WeCom unless a test seeds them for DingTalk."""
    settings = load_settings(crmbot_database_url=database.url, crmbot_demo=True, crmbot_secret_key="test-secret",
                             crmbot_public_url=PUBLIC, **WECOM_KEYS, **DINGTALK_KEYS)
    clock = ManualClock(datetime(2026, 12, 1, 9, 30, tzinfo=playbook.tz))
    runtime = Runtime(settings=settings, playbook=playbook, db=database, redis=redis_conn,
                      queue=RecordingQueue(), clock=clock)
    app = create_app(settings, runtime)

    def seed(platform: str = "wecom"):
        with database.transaction() as session:
            seed_demo(session, playbook, now=clock.now(), platform=platform)
            add_demo_chats(session, app.extensions["crmbot_fakes"].wecom, now=clock.now())
    try:
        yield app, seed
    finally:
        set_runtime(None)


def test_customer_chats_list_a_reps_wecom_customers_with_their_sidebar(demo_app, database):
    app, seed = demo_app
    seed()
    client = app.test_client()
    chats = client.get("/dev/simulator/api/chats", query_string={"platform": "wecom", "user": "rep1"}).get_json()["chats"]
    assert [c["label"] for c in chats] == [f"{name}（{company}）" for owner, _id, name, company, *_ in DEMO_CHATS
                                           if owner == "rep1"]
    chen = chats[0]
    assert chen["label"] == "陈先生（华东机电）"
    # the sidebar WeCom opens beside that chat, logged in as rep1 (the demo-only dev-login)
    sidebar = urlsplit(chen["sidebar_url"])
    assert sidebar.path == "/app/dev-login"
    assert parse_qs(sidebar.query) == {"user": ["rep1"], "platform": ["wecom"],
                                       "next": [f"/app/sidebar?external_userid={chen['external_userid']}"]}
    login = client.get(chen["sidebar_url"])
    assert login.status_code == 302 and login.headers["Location"].endswith(
        f"/app/sidebar?external_userid={chen['external_userid']}")
    # another rep sees only theirs; DingTalk has no customer-chat sidebar
    rep2 = client.get("/dev/simulator/api/chats", query_string={"platform": "wecom", "user": "rep2"}).get_json()
    assert {c["name"] for c in rep2["chats"]} == {name for owner, _id, name, *_ in DEMO_CHATS if owner == "rep2"}
    assert client.get("/dev/simulator/api/chats",
                      query_string={"platform": "dingtalk", "user": "rep1"}).get_json() == {"chats": []}
    assert client.get("/dev/simulator/api/chats", query_string={"platform": "qq", "user": "rep1"}).status_code == 400
    # the chats marked linked are linked once, however often the demo starts
    seed()
    with database.transaction() as session:
        linked = session.scalars(select(ChatLink.external_id).order_by(ChatLink.external_id)).all()
    assert linked == sorted(ext for _o, ext, *_rest, to in DEMO_CHATS if to)


def test_card_links_open_as_the_simulated_user_and_charts_are_shown(demo_app):
    app, seed = demo_app
    seed()
    client = app.test_client()
    token = client.get("/dev/fake/wecom/cgi-bin/gettoken", query_string={
        "corpid": WECOM_KEYS["wecom_corp_id"], "corpsecret": WECOM_KEYS["wecom_secret"]}).get_json()["access_token"]
    card = builders.task_card("task-1-0a1b2c3d", title="今日跟进：刘女士", detail=None, fields=[],
                              link=f"{PUBLIC}/app/customers/3", source="待办", hint="",
                              actions=[("contacted", "已跟进")])
    sent = client.post(f"/dev/fake/wecom/cgi-bin/message/send?access_token={token}",
                       json=wecom.render_card(card, WECOM_KEYS["wecom_agent_id"], "manager"))
    assert sent.get_json()["errcode"] == 0
    chart = client.post(f"/dev/fake/wecom/cgi-bin/media/upload?access_token={token}&type=image",
                        data={"media": (io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"0" * 64), "chart.png")})
    media_id = chart.get_json()["media_id"]
    client.post(f"/dev/fake/wecom/cgi-bin/message/send?access_token={token}",
                json={"touser": "manager", "msgtype": "image", "agentid": WECOM_KEYS["wecom_agent_id"],
                      "image": {"media_id": media_id}})

    client.post(f"/dev/fake/wecom/cgi-bin/message/send?access_token={token}",
                json={"touser": "manager", "msgtype": "markdown", "agentid": WECOM_KEYS["wecom_agent_id"],
                      "markdown": {"content": f"**升级**：刘女士 [查看详情]({PUBLIC}/app/customers/3)"}})

    messages = client.get("/dev/simulator/api/conversation",
                          query_string={"platform": "wecom", "user": "manager"}).get_json()["messages"]
    shown = next(m["card"] for m in messages if m["type"] == "card")
    opened = next(b for b in shown["buttons"] if b["text"] == "打开")
    target = urlsplit(opened["url"])
    assert target.path == "/app/dev-login" and parse_qs(target.query) == {
        "user": ["manager"], "platform": ["wecom"], "next": ["/app/customers/3"]}
    assert shown["link"] == opened["url"]
    note = next(m for m in messages if m["type"] == "markdown")
    assert note["text"] == f"**升级**：刘女士 [查看详情]({opened['url']})"   # a markdown link, too
    image = next(m for m in messages if m["type"] == "image")
    picture = client.get(image["media_url"])
    assert picture.status_code == 200 and picture.data.startswith(b"\x89PNG")
    assert client.get("/dev/simulator/api/media/MEDIA_unknown").status_code == 404


def test_an_empty_chat_says_where_the_reminders_go(demo_app):
    app, seed = demo_app
    seed(platform="dingtalk")   # `crmbot demo --platform dingtalk`
    client = app.test_client()
    on_wecom = client.get("/dev/simulator/api/conversation", query_string={"platform": "wecom", "user": "rep1"})
    assert on_wecom.get_json() == {"messages": [], "reaches": "dingtalk"}
    page = client.get("/dev/simulator").get_data(as_text=True)
    assert 'data-default-platform="wecom"' in page   # a test app: the command line sets the demo's platform


def test_tonight_jumps_to_the_start_of_quiet_hours_once(demo_app, playbook):
    app, seed = demo_app
    seed()
    client = app.test_client()
    page = client.get("/dev/simulator").get_data(as_text=True)
    assert f"今晚{playbook.quiet_hours.start:%H:%M}" in page
    moved = client.post("/dev/simulator/api/clock", json={"jump": "tonight", "platform": "wecom", "user": "rep1"})
    assert moved.status_code == 200
    assert moved.get_json()["now"].startswith(f"2026-12-01T{playbook.quiet_hours.start:%H:%M}")
    runtime = app.extensions["crmbot"]
    assert runtime.queue.jobs, "the scheduler's jobs run as of the new time"
    again = client.post("/dev/simulator/api/clock", json={"jump": "tonight"})
    assert again.status_code == 400 and again.get_json()["error"] == "现在已经是免打扰时段"


def test_the_held_note_says_until_when_and_never_names_a_time_gone_by(demo_app, database, playbook):
    app, seed = demo_app
    seed()
    runtime = app.extensions["crmbot"]
    now = runtime.clock.now()
    with database.transaction() as session:
        for key, until in (("rule:later", now + timedelta(hours=2)), ("rule:due", now - timedelta(minutes=5))):
            messaging.enqueue_outbox(session, now=now, dedupe_key=key, platform="wecom", recipient="rep1",
                                     payload={"text": "提醒"}, not_before=until, status=HELD)
    client = app.test_client()
    state = client.get("/dev/simulator/api/clock", query_string={"platform": "wecom", "user": "rep1"}).get_json()
    # the oldest is due already (the release job has not run yet): "即将送达", not "将在 09:25 送达"
    assert state["held"] == 2 and state["held_note"] == "有 2 条消息即将送达"
    with database.transaction() as session:
        session.execute(delete(OutboxMessage).where(OutboxMessage.dedupe_key == "rule:due"))
    state = client.get("/dev/simulator/api/clock", query_string={"platform": "wecom", "user": "rep1"}).get_json()
    assert state["held_note"] == "有 1 条消息处于免打扰时段或稍后提醒，将在 12-01 11:30 送达"
    assert client.get("/dev/simulator/api/clock", query_string={"platform": "wecom", "user": "rep2"}).get_json()[
        "held_note"] is None
