"""Property-based fuzz over every entry point (issue 15), with hypothesis.

For each entry point, random but correctly signed (and, for WeCom, encrypted) requests go through the
real Flask app with its test client (no server: thousands of examples in seconds): arbitrary JSON
and XML shapes grown from a valid body, deep nesting, declared encodings and raw bytes in other
encodings, any Unicode. Invariant: the status is below 500, and a 4xx writes nothing (every table's
row count is unchanged). Stream frames go through the same parsers via the Stream FrameHandler.

Examples per entry point: CRMBOT_FUZZ_EXAMPLES (default 2000, what CI runs); set it lower for a
quick local run. Runtime is measured and reported in docs/benchmarks.md.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import text

from bot.dingtalk import fake as dt_fake
from bot.dingtalk.adapter import CallbackRejected, parse_card_callback, parse_robot_message
from bot.dingtalk.stream import FrameHandler
from storage.models import Base
from tests.factories import build_world
from tests.hostile import dingtalk_card, dingtalk_robot, lead_post, make_edge_app, wecom_signed
from tests.miniapp.helpers import CSRF, login

EXAMPLES = int(os.environ.get("CRMBOT_FUZZ_EXAMPLES", "2000"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])

# ------------------------------------------------------------------ strategies

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=300))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=12)
deep = st.integers(min_value=30, max_value=4000).map(lambda n: '{"a":' * n + "1" + "}" * n)
ENCODINGS = ["utf-8", "gbk", "gb18030", "big5", "shift_jis", "utf-16", "latin-1"]


def mutated(valid: dict) -> st.SearchStrategy[dict]:
    """The valid body with some of its keys replaced by arbitrary JSON, some removed, some added."""
    keys = list(valid)
    return st.builds(
        lambda replace, drop, extra: {**{k: v for k, v in valid.items() if k not in drop}, **replace, **extra},
        st.dictionaries(st.sampled_from(keys), json_values, max_size=4),
        st.sets(st.sampled_from(keys), max_size=3),
        st.dictionaries(st.text(max_size=12), json_values, max_size=2))


def encoded(bodies: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """JSON text in UTF-8 mostly, sometimes in another encoding; sometimes a deep or odd raw body."""
    as_json = st.builds(lambda b, enc: json.dumps(b, ensure_ascii=False).encode(enc, errors="replace"),
                        bodies, st.sampled_from(ENCODINGS))
    return st.one_of(as_json, as_json, as_json, deep.map(str.encode), st.binary(max_size=200),
                     st.sampled_from([b"NaN", b'{"a": NaN}', b'{"a": -Infinity}', b"[]", b"null", b""]))


class Stamps:
    """Fresh, distinct millisecond timestamps inside the replay window (DingTalk signs only them)."""

    def __init__(self):
        self.counter = itertools.count()

    def next(self) -> int:
        return int(time.time() * 1000) - next(self.counter) % 250_000


# ------------------------------------------------------------------ the invariant


def count_rows(database) -> tuple[int, ...]:
    sql = "SELECT " + ", ".join(f'(SELECT count(*) FROM "{t.name}")' for t in Base.metadata.sorted_tables)
    with database.engine.connect() as conn:
        return tuple(conn.execute(text(sql)).one())


RUNS: list[int] = []


def ran_all_examples() -> None:
    """Every entry point really got its EXAMPLES requests (hypothesis may stop early on a small space)."""
    count = len(RUNS)
    RUNS.clear()
    assert count >= EXAMPLES, f"only {count} examples ran"


def check(database, send, upstream_refusal_ok: bool = False) -> int:
    """`upstream_refusal_ok`: a login whose code the platform refuses answers a deliberate 502
    (the platform said no); any other 5xx is a crash."""
    RUNS.append(1)
    before = count_rows(database)
    response = send()
    status = response.status_code
    if upstream_refusal_ok and status == 502:
        assert "登录失败" in response.get_data(as_text=True)
        status = 400
    assert status < 500, response.get_data(as_text=True)[:500]
    if 400 <= status < 500:
        assert count_rows(database) == before, f"a {status} wrote something"
    return status


@pytest.fixture
def edge(database, playbook, redis_conn):
    app = make_edge_app(database, playbook, redis_conn)
    with database.transaction() as s:
        build_world(s)
    return app


# ------------------------------------------------------------------ DingTalk


def test_fuzz_dingtalk_robot_callback(edge, database):
    client, cfg, stamps = edge.test_client(), edge.extensions["crmbot"].settings, Stamps()
    valid = dt_fake.robot_message("text", "rep1", corp_id="dingcorp001", text={"content": "帮助"})

    @FUZZ
    @given(encoded(st.one_of(mutated(valid), json_values)),
           st.sampled_from(["text", "picture", "richText", "audio", "video", "file", "other"]))
    def run(body: bytes, msgtype: str):
        if body.startswith(b"{") and b'"msgtype"' not in body:
            body = body[:-1] + (b", " if len(body) > 2 else b"") + f'"msgtype": "{msgtype}"}}'.encode()
        check(database, lambda: dingtalk_robot(client, cfg, body, timestamp_ms=stamps.next()))
    RUNS.clear()
    run()
    ran_all_examples()


def test_fuzz_dingtalk_card_callback(edge, database):
    client, cfg, stamps = edge.test_client(), edge.extensions["crmbot"].settings, Stamps()
    valid = dt_fake.card_callback_data("cust-1-x", "rep1", ["tag:quoted"], corp_id="dingcorp001")
    contents = st.one_of(json_values.map(lambda v: json.dumps(v, ensure_ascii=False)), deep, st.text(max_size=50),
                         mutated({"cardPrivateData": {"actionIds": ["a"], "params": {"k": "v"}}})
                         .map(lambda v: json.dumps(v, ensure_ascii=False)))

    @FUZZ
    @given(encoded(st.one_of(mutated(valid), st.builds(lambda c: {**valid, "content": c}, contents))))
    def run(body: bytes):
        check(database, lambda: dingtalk_card(client, cfg, body, timestamp_ms=stamps.next()))
    RUNS.clear()
    run()
    ran_all_examples()


def test_fuzz_stream_frames():
    """Stream frames reach the same parsers through FrameHandler: only CallbackRejected may come out
    of a parser, and the handler always answers an ack instead of raising."""
    seen: list = []
    robot = FrameHandler(lambda d: parse_robot_message(d, org="dingcorp001"), lambda e, raw: seen.append(e), "robot")
    card = FrameHandler(lambda d: parse_card_callback(d, org="dingcorp001"), lambda e, raw: None, "card")
    valid_robot = dt_fake.robot_message("text", "rep1", corp_id="dingcorp001", text={"content": "帮助"})
    valid_card = dt_fake.card_callback_data("cust-1-x", "rep1", ["tag:quoted"], corp_id="dingcorp001")

    class Headers:
        message_id = "m1"

    class Frame:
        headers = Headers()

        def __init__(self, data):
            self.data = data

    @FUZZ
    @given(st.one_of(mutated(valid_robot), json_values, deep), st.one_of(mutated(valid_card), json_values))
    def run(robot_data, card_data):
        RUNS.append(1)
        for handler, data in ((robot, robot_data), (card, card_data)):
            status, _answer = asyncio.run(handler.process(Frame(data)))
            assert status in (200, 500)
        for parse, data in ((lambda d: parse_robot_message(d, org="dingcorp001"), robot_data),
                            (lambda d: parse_card_callback(d, org="dingcorp001"), card_data)):
            try:
                event = parse(data)
            except CallbackRejected:
                continue
            if event is not None:
                assert len(event.event_id) <= 160 and len(event.sender) <= 64 and event.org == "dingcorp001"
    RUNS.clear()
    run()
    ran_all_examples()


# ------------------------------------------------------------------ WeCom

xml_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}", fullmatch=True)
xml_text = st.text(max_size=200)


def inner_xml(fields: dict[str, Any], nest: int, declaration: str | None) -> str:
    root = ET.Element("xml")
    for name, value in fields.items():
        child = ET.SubElement(root, name)
        if isinstance(value, dict):
            for k, v in value.items():
                ET.SubElement(child, k).text = v
        else:
            child.text = value
    body = ET.tostring(root, encoding="unicode")
    if nest:
        body = body.replace("</xml>", "<n>" * nest + "x" + "</n>" * nest + "</xml>")
    return (f'<?xml version="1.0" encoding="{declaration}"?>' if declaration else "") + body


def test_fuzz_wecom_callback(edge, database):
    client, cfg = edge.test_client(), edge.extensions["crmbot"].settings
    base = {"ToUserName": "wwcorp001", "FromUserName": "rep1", "CreateTime": str(int(time.time())),
            "MsgType": "text", "Content": "帮助", "MsgId": "1", "AgentID": "1000002"}
    field_values = st.one_of(xml_text, st.dictionaries(xml_names, xml_text, max_size=3))
    fields = st.builds(lambda replace, extra, msg_type: {**base, **replace, **extra, "MsgType": msg_type},
                       st.dictionaries(st.sampled_from(list(base)), field_values, max_size=4),
                       st.dictionaries(xml_names, field_values, max_size=3),
                       st.sampled_from(["text", "image", "voice", "event", "video", "x"]))
    ids = itertools.count(10 ** 12)

    @FUZZ
    @given(fields, st.one_of(st.just(0), st.just(0), st.integers(1, 4000)),
           st.sampled_from([None, None, "utf-8", "GBK", "Shift_JIS", "Big5", "utf-16", "latin-1"]),
           st.sampled_from(["", "template_card_event", "change_external_contact", "click", "enter_agent"]))
    def run(fields, nest, declaration, event):
        fields = {**fields, "MsgId": fields.get("MsgId") if fields.get("MsgId") != "1" else str(next(ids))}
        if event:
            fields["Event"] = event
        xml = inner_xml(fields, nest, declaration)
        check(database, lambda: wecom_signed(client, cfg, xml))
    RUNS.clear()
    run()
    ran_all_examples()


def test_fuzz_wecom_envelope_unsigned(edge, database):
    """What anyone on the internet can send: odd envelopes, encodings and parameters."""
    client = edge.test_client()

    @FUZZ
    @given(st.one_of(st.binary(max_size=300), xml_text.map(str.encode),
                     st.builds(lambda enc, inner: f'<?xml version="1.0" encoding="{enc}"?><xml><Encrypt>{inner}'
                               f"</Encrypt></xml>".encode("utf-8", "replace"),
                               st.sampled_from(ENCODINGS + ["GBK", "bogus", "UTF-32"]), xml_text),
                     st.integers(1, 4000).map(lambda n: ("<xml>" + "<a>" * n + "</a>" * n + "</xml>").encode())),
           st.dictionaries(st.sampled_from(["msg_signature", "timestamp", "nonce", "echostr"]), st.text(max_size=40)))
    def run(body, params):
        params = {"timestamp": str(int(time.time())), "msg_signature": "s", "nonce": "n", **params}
        check(database, lambda: client.post("/wecom/callback", query_string=params, data=body))
        check(database, lambda: client.get("/wecom/callback", query_string=params))
    RUNS.clear()
    run()
    ran_all_examples()


# ------------------------------------------------------------------ lead webhook


def test_fuzz_lead_webhook(edge, database):
    client = edge.test_client()
    valid = {"submission_id": "s-1", "name": "郑先生", "company": "无锡恒达机械有限公司", "mobile": "13812340011",
             "industry": "制造业", "budget": 200000, "note": "官网留言", "attribution": {"utm_source": "baidu"}}

    @FUZZ
    @given(encoded(st.one_of(mutated(valid), json_values)))
    def run(body: bytes):
        check(database, lambda: lead_post(client, body))
    RUNS.clear()
    run()
    ran_all_examples()


# ------------------------------------------------------------------ mini-app API


@pytest.fixture
def seeded(database, playbook, redis_conn):
    from tests.miniapp.helpers import seed
    data = seed(database, playbook)
    return make_edge_app(database, playbook, redis_conn), data


def test_fuzz_miniapp_api(seeded, database):
    app, data = seeded
    client = app.test_client()
    login(client, "rep1")
    routes = {
        "/api/customers": {"name": "新公司", "kind": "company", "contact_name": "张三", "contact_title": "经理",
                           "contact_mobile": "13800138009", "grade": "A", "platform": "wecom"},
        f"/api/customers/{data.c_rep1_incomplete}/identifier": {"credit_code": "91320500MA1M123450", "mobile": ""},
        f"/api/customers/{data.c_rep1}/followups": {"tags": ["已报价"], "note": "好", "next_followup": "2031-01-02",
                                                    "channel": "app", "request_id": "r1"},
        f"/api/customers/{data.c_rep1}/opportunities": {"name": "二期", "amount": "1000.5"},
        "/api/links": {"customer_id": data.c_rep1, "external_userid": "wm1", "platform": "wecom"},
        f"/api/drafts/{data.draft_rep1}": {"fields": {"name": "陈经理", "title": "总监"}},
        f"/api/tasks/{data.task_rep1}": {"action": "done", "result": "已联系"},
        f"/api/opportunities/{data.opp_rep1}": {"name": "数控机床采购", "amount": 600000},
        f"/api/opportunities/{data.opp_rep1}/checklist": {"stage": "needs", "item": "已确认预算范围", "checked": True},
        f"/api/opportunities/{data.opp_rep1}/stage": {"stage": "needs"},
        "/app/login/dingtalk": {"code": "abc", "next": "/app/"},
    }
    bodies = st.sampled_from(list(routes)).flatmap(
        lambda path: st.tuples(st.just(path), encoded(st.one_of(mutated(routes[path]), json_values))))

    @FUZZ
    @given(bodies)
    def run(path_and_body):
        path, body = path_and_body
        status = check(database, lambda: client.post(path, data=body, content_type="application/json",
                                                     headers=CSRF), upstream_refusal_ok=path.startswith("/app/login"))
        assert status != 401  # the session survived: nothing above logs the user out
    RUNS.clear()
    run()
    ran_all_examples()


def test_fuzz_miniapp_queries(seeded, database):
    app, data = seeded
    client = app.test_client()
    login(client, "rep1")
    paths = st.sampled_from(["/api/customers", "/api/links", "/api/dashboard", "/api/dashboard/list", "/app/",
                             "/app/welcome", "/app/sidebar", "/app/dashboard", "/app/dashboard/list",
                             f"/app/customers/{data.c_rep1}", "/api/tasks", "/app/login/wecom", "/app/group"])
    tricky = st.sampled_from(["\x00", "a\x00b", "%", "_", "%_%", "\n", "\r\n", "\x7f", "//evil", "/app/\n",
                              "9" * 30, "-1", "0", str(2 ** 31)])
    args = st.dictionaries(st.sampled_from(["q", "page", "per_page", "status", "owner_id", "external_userid",
                                            "platform", "metric", "rep", "days", "next", "stage", "name", "t"]),
                           st.one_of(st.text(max_size=60), tricky, st.integers(-2 ** 70, 2 ** 70).map(str)),
                           max_size=4)
    ids = st.one_of(st.integers(0, 2 ** 70), st.just(2 ** 31), st.just(2 ** 31 - 1))
    id_paths = st.sampled_from(["/api/customers/{}", "/app/customers/{}", "/api/tasks/{}", "/api/drafts/{}",
                                "/api/opportunities/{}", "/app/drafts/{}"])

    @FUZZ
    @given(paths, args, ids, id_paths, st.sampled_from(["rep1", "manager"]))
    def run(path, query, some_id, id_path, who):
        login(client, who)
        check(database, lambda: client.get(path, query_string=query))
        check(database, lambda: client.get(id_path.format(some_id)))
    RUNS.clear()
    run()
    ran_all_examples()
