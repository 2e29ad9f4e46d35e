"""`crmbot demo` as a user starts it: a subprocess on a free loopback port, its own SQLite file and
working directory. A rep talks to it through /dev/simulator's API and the fake WeCom inside the demo
receives the card; a click through the simulator updates it."""
from __future__ import annotations

import pytest
import requests

from tests.demo_process import running_demo, wait_for


@pytest.fixture
def demo(tmp_path):
    with running_demo(tmp_path) as base:
        yield base
    assert (tmp_path / "demo.db").exists()


def _wecom_cards(base: str, user: str) -> list[dict]:
    sent = requests.get(f"{base}/dev/fake/wecom/sent", timeout=5).json()
    return [m for m in sent if m["path"].endswith("/message/send") and m["body"].get("touser") == user
            and m["body"].get("msgtype") == "template_card"]


def test_demo_serves_health_simulator_and_the_demo_org(demo):
    base = demo
    assert requests.get(f"{base}/healthz", timeout=5).json()["status"] == "ok"
    page = requests.get(f"{base}/dev/simulator", timeout=5)
    assert page.status_code == 200 and "消息模拟器" in page.text
    users = requests.get(f"{base}/dev/simulator/api/users", timeout=5).json()["users"]
    assert {u["id"] for u in users} == {"director", "manager", "rep1", "rep2", "rep3"}
    assert requests.get(f"{base}/dev/fake/dingtalk/sent", timeout=5).json() == {"sent": [], "cards": {}}

    r = requests.post(f"{base}/dev/simulator/api/send", json={"platform": "wecom", "user": "rep1",
                                                              "text": "查 华东机电"}, timeout=10)
    assert r.status_code == 200 and r.json()["ok"] is True
    # the demo's scheduler also pushes reminder cards to rep1: pick the answer to the lookup
    def lookup_cards():
        return [c["body"]["template_card"] for c in _wecom_cards(base, "rep1")
                if c["body"]["template_card"]["main_title"]["title"].startswith("上海华东机电设备有限公司")]
    card = wait_for(lookup_cards, 20, "the lookup card at the fake WeCom")[0]
    assert card["button_list"][0]["key"] == "tag:quoted"

    # the simulator shows it, and a click through the simulator updates it in place
    r = requests.post(f"{base}/dev/simulator/api/click", timeout=10, json={
        "platform": "wecom", "user": "rep1", "card_id": card["task_id"], "key": "tag:quoted", "text": "已报价"})
    assert r.json()["ok"] is True

    def updated_card():
        messages = requests.get(f"{base}/dev/simulator/api/conversation",
                                params={"platform": "wecom", "user": "rep1"}, timeout=5).json()["messages"]
        cards = [m["card"] for m in messages if m["type"] == "card" and m["card"]["updated"]]
        return cards[0] if cards else None
    assert "已记跟进：已报价" in wait_for(updated_card, 20, "the updated card")["desc"]


def test_simulator_refuses_bad_input_in_chinese(demo):
    r = requests.post(f"{demo}/dev/simulator/api/send", json={"platform": "wecom", "user": "rep1", "text": " "},
                      timeout=5)
    assert r.status_code == 400 and r.json()["error"] == "请输入要发送的内容"
    r = requests.post(f"{demo}/dev/simulator/api/send", json={"platform": "qq", "user": "rep1", "text": "帮助"},
                      timeout=5)
    assert r.status_code == 400 and "平台" in r.json()["error"]


def test_photo_upload_on_dingtalk_reaches_the_bot(demo):
    import io

    from PIL import Image
    buffer = io.BytesIO()
    Image.new("RGB", (60, 40), "white").save(buffer, format="PNG")
    r = requests.post(f"{demo}/dev/simulator/api/upload", timeout=10,
                      data={"platform": "dingtalk", "user": "rep2", "kind": "image"},
                      files={"file": ("名片.png", buffer.getvalue(), "image/png")})
    assert r.status_code == 200 and r.json()["ok"] is True

    def bot_texts():
        messages = requests.get(f"{demo}/dev/simulator/api/conversation",
                                params={"platform": "dingtalk", "user": "rep2"}, timeout=5).json()["messages"]
        mine = [m for m in messages if m["from"] == "me"]
        assert mine[0]["type"] == "image" and mine[0]["media_url"]
        assert requests.get(demo + mine[0]["media_url"], timeout=5).content == buffer.getvalue()
        return [m["text"] for m in messages if m["from"] == "bot" and m["type"] == "text"]
    texts = wait_for(bot_texts, 20, "the bot's answer to the photo")
    assert texts[0].startswith("已收到名片照片")


def test_interactive_dingtalk_card_clicked_in_the_simulator(tmp_path):
    from tests.demo_process import start_demo, stop_demo
    proc, base = start_demo(tmp_path, {"DINGTALK_CARD_TEMPLATE_ID": "tpl-demo-crmbot"})
    try:
        who = {"platform": "dingtalk", "user": "rep3"}
        assert requests.post(f"{base}/dev/simulator/api/send", json={**who, "text": "查 金陵化工"},
                             timeout=10).json()["ok"]

        def cards():
            messages = requests.get(f"{base}/dev/simulator/api/conversation", params=who,
                                    timeout=5).json()["messages"]
            return [m["card"] for m in messages if m["type"] == "card"]
        card = wait_for(cards, 20, "the interactive card")[0]
        assert card["title"].startswith("南京金陵化工集团有限公司") and not card["updated"]
        created = requests.get(f"{base}/dev/fake/dingtalk/sent", timeout=5).json()
        assert created["sent"][-1]["api"] == "cardCreate"
        assert created["sent"][-1]["body"]["cardTemplateId"] == "tpl-demo-crmbot"

        button = next(b for b in card["buttons"] if b["key"])
        r = requests.post(f"{base}/dev/simulator/api/click", timeout=10,
                          json={**who, "card_id": card["card_id"], "key": button["key"], "text": button["text"]})
        assert r.json()["ok"] is True
        done = wait_for(lambda: [c for c in cards() if c["updated"]], 20, "the card update")[0]
        assert done["done_note"].startswith(f"已记跟进：{button['text']} · 张伟") and all(not b["key"] for b in done["buttons"])
        cards_now = requests.get(f"{base}/dev/fake/dingtalk/sent", timeout=5).json()["cards"]
        assert cards_now[card["card_id"]]["done"] == "true"
    finally:
        stop_demo(proc)


def test_action_card_button_clicked_in_the_simulator_sends_a_text_for_people(tmp_path):
    # a DingTalk app without a card template: the simulator's button sends what DingTalk's client
    # would, the button's text, and the page never learns a card id or a key
    from tests.demo_process import start_demo, stop_demo
    proc, base = start_demo(tmp_path, {"DINGTALK_CARD_TEMPLATE_ID": ""})
    try:
        who = {"platform": "dingtalk", "user": "rep3"}
        assert requests.post(f"{base}/dev/simulator/api/send", json={**who, "text": "查 金陵化工"},
                             timeout=10).json()["ok"]

        def messages():
            return requests.get(f"{base}/dev/simulator/api/conversation", params=who, timeout=5).json()["messages"]
        card = wait_for(lambda: [m["card"] for m in messages() if m["type"] == "card"
                                 and m["card"]["title"].startswith("南京金陵化工集团有限公司")], 20, "the ActionCard")[0]
        assert card["action_card"] and card["card_id"] == ""
        button = next(b for b in card["buttons"] if b["key"])
        assert button["key"] == f"☑ {button['text']} · 南京金陵化工集团有限公司"
        r = requests.post(f"{base}/dev/simulator/api/click", timeout=10,
                          json={**who, "card_id": "", "key": button["key"], "text": button["text"]})
        assert r.json()["ok"] is True
        mine = [m["text"] for m in messages() if m["from"] == "me"]
        assert mine[-1] == button["key"]
        wait_for(lambda: [m for m in messages() if m["from"] == "bot" and m["type"] == "text"
                          and f"已记跟进：{button['text']} · 张伟" in m["text"]], 20, "the bot's answer")
        r = requests.post(f"{base}/dev/simulator/api/click", timeout=10,   # a made-up button is refused
                          json={**who, "card_id": "", "key": "tag:quoted", "text": "已报价"})
        assert r.status_code == 400 and r.json()["error"] == "这个按钮无法点击"
    finally:
        stop_demo(proc)


def test_fakes_and_simulator_exist_only_in_demo_mode(database, redis_conn):
    from config.settings import load_settings
    from crmbot.app import create_app
    from crmbot.runtime import Runtime
    from jobs.queue import InlineQueue
    from jobs.runtime import set_runtime
    from tests.stack import DINGTALK_KEYS, WECOM_KEYS

    def app_for(demo: bool):
        settings = load_settings(crmbot_database_url=database.url, crmbot_demo=demo,
                                 crmbot_secret_key="test-secret", **WECOM_KEYS, **DINGTALK_KEYS)
        runtime = Runtime(settings=settings, playbook=None, db=database, redis=redis_conn, queue=InlineQueue())
        return create_app(settings, runtime)
    try:
        production = app_for(False).test_client()
        for path in ("/dev/simulator", "/dev/fake/wecom/sent", "/dev/fake/dingtalk/sent"):
            assert production.get(path).status_code == 404
        app = app_for(True)
        fakes = app.extensions["crmbot_fakes"]
        # the fakes accept exactly the app's own keys, so the real clients authenticate against them
        assert (fakes.wecom.corp_id, fakes.wecom.secret) == (WECOM_KEYS["wecom_corp_id"], WECOM_KEYS["wecom_secret"])
        assert (fakes.dingtalk.app_key, fakes.dingtalk.app_secret) == (
            DINGTALK_KEYS["dingtalk_app_key"], DINGTALK_KEYS["dingtalk_app_secret"])
        client = app.test_client()
        assert client.get("/dev/fake/wecom/sent").get_json() == []
        assert client.get("/dev/fake/dingtalk/sent").get_json() == {"sent": [], "cards": {}}
        token = client.get("/dev/fake/wecom/cgi-bin/gettoken", query_string={
            "corpid": WECOM_KEYS["wecom_corp_id"], "corpsecret": WECOM_KEYS["wecom_secret"]}).get_json()
        assert token["errcode"] == 0 and token["access_token"]
    finally:
        set_runtime(None)


def test_the_demo_clock_shows_a_working_day_and_jumps_on_request(demo):
    """Started at any hour, the demo runs in working time (nothing held, leads offered at once);
    模拟时间 +2小时 runs the scheduler's jobs at the new time: an unclaimed lead moves on."""
    state = requests.get(f"{demo}/dev/simulator/api/clock", params={"platform": "wecom", "user": "rep1"},
                         timeout=5).json()
    hour = int(state["now"][11:13])
    assert 9 <= hour < 18 and state["held"] == 0 and "周" in state["label"]

    def offers():
        return [c for c in _wecom_cards(demo, "rep1") + _wecom_cards(demo, "rep2")
                if c["body"]["template_card"]["main_title"]["title"].startswith("新线索")]
    before = len(wait_for(offers, 30, "the seeded leads offered to the reps"))
    moved = requests.post(f"{demo}/dev/simulator/api/clock", json={"jump": "plus_2h"}, timeout=5).json()
    assert moved["now"] > state["now"]
    assert len(wait_for(lambda: offers() if len(offers()) > before else None, 30,
                        "an unclaimed lead reassigned after the jump")) > before
    assert requests.post(f"{demo}/dev/simulator/api/clock", json={"jump": "yesterday"}, timeout=5).status_code == 400
