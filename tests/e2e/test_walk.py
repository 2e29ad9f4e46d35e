"""The walk: a rep's and a manager's day through /dev/simulator, in headless Chromium at 375×812 on
the running demo (`crmbot demo`, a subprocess), counting every tap a person makes.

What is counted: every click, tap or choice in a select that the script makes is one tap, because a
person would make it. Taps on the product (a card button, 发送, a chat, 关联) are held against the
issue's budgets; taps on the simulator's own controls (我是 …, 模拟时间) are counted and shown apart,
since a real rep never switches user or moves the clock. Typing text and choosing a file are logged,
not counted ("1 tap + the note").

The budgets (issue 16, Done when): a customer from a card photo 1 tap after the photo; a follow-up
≤ 1 tap + the note; link a chat ≤ 2 taps; transfer a lead ≤ 3 taps with confirmation; and a manager's
催办 1 tap, told when it arrives if the rep is in quiet hours. The steps run on WeCom and on DingTalk
(no customer-chat sidebar on DingTalk: that step is WeCom-only).

The demo's clock is injected (`crmbot demo --start`), so the walk is the same at any wall-clock hour.
Tap counts go to test-artifacts/walk-taps.json and .md, screenshots to test-artifacts/walk/;
`CRMBOT_DOCS_SCREENSHOTS=1` also refreshes the ones docs/simulator.md shows.
"""
from __future__ import annotations

import json
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.demo_process import running_demo
from tests.e2e.browser import ARTIFACTS, phone_page, require_browser, shot
from tests.ocr_asr import cardgen

pytestmark = pytest.mark.e2e
require_browser()

START = "2026-12-01T09:30:00+08:00"   # a Tuesday morning; 22:00 is quiet hours, 12-02 a working day
AUDIO = Path(__file__).resolve().parents[1] / "ocr_asr" / "fixtures" / "audio"
CARD_SEED = 4242                        # a card the OCR reads whole (tests/scenarios/test_capture_flow.py)
SLOW = 120_000                          # ms: OCR and speech recognition on a shared 2-core machine
RESULTS: dict[str, list[dict]] = {}
# What the walk shows broken outside the simulator and the demo (reported to the team, not fixed
# here). Each is still checked: a fix makes the walk fail until the entry is removed.
KNOWN_BREAKS: dict[str, str] = {}
# The moments docs/simulator.md shows (refreshed with CRMBOT_DOCS_SCREENSHOTS=1).
DOC_SHOTS = {"wecom": {"card-draft", "customer-chat", "customer-chat-linked", "transfer-pick", "nudge-at-night",
                       "next-morning"},
             "dingtalk": {"card-draft", "transferred", "nudge-at-night"}}
LOGGED = re.compile("已记(录)?跟进")   # the tag tap says 已记跟进, the command and drafts 已记录跟进
# What must never reach a person: the ActionCard fallback's action text, card ids, button keys.
INTERNAL = re.compile(r"#操作|‹|›|(?<![A-Za-z])(?:tag|task|pick|draft|cust|undo|unpick):[\w:-]*"
                      r"|(?<![A-Za-z])(?:task|cust|draft|pick)-\d+-[0-9a-f]{6,}")


@dataclass
class Step:
    name: str
    budget: int | None
    actions: list[dict] = field(default_factory=list)

    @property
    def taps(self) -> int:
        return sum(1 for a in self.actions if a["kind"] == "tap")

    @property
    def simulator_taps(self) -> int:
        return sum(1 for a in self.actions if a["kind"] == "simulator")

    def summary(self) -> str:
        return " → ".join(f"{a['kind']}:{a['what']}" for a in self.actions)


class Walk:
    """Page actions through one door, so every tap is counted where it is made."""

    def __init__(self, page, platform: str):
        self.page, self.platform = page, platform
        self.steps: list[Step] = []
        self.breaks: list[str] = []

    def check(self, ok: bool, key: str) -> None:
        """A check whose failure is a known break (KNOWN_BREAKS); any other failure fails at once."""
        if not ok:
            name = f"{self.platform}:{key}"
            assert name in KNOWN_BREAKS, f"[{self.platform}] new break: {key}"
            self.breaks.append(name)

    @contextmanager
    def step(self, name: str, budget: int | None = None):
        current = Step(name, budget)
        self.steps.append(current)
        yield current
        if budget is not None:
            assert current.taps <= budget, (
                f"[{self.platform}] {name}: {current.taps} taps, budget {budget}: {current.summary()}")
        shown = self.page.locator("#messages").inner_text()
        leaked = INTERNAL.findall(shown)
        assert not leaked, f"[{self.platform}] {name}: internal keys shown to a person: {leaked}"

    def _log(self, kind: str, what: str) -> None:
        self.steps[-1].actions.append({"kind": kind, "what": what})

    def tap(self, locator, what: str) -> None:
        locator.click()
        self._log("tap", what)

    def type(self, locator, text: str) -> None:
        locator.fill(text)
        self._log("type", text)

    def choose_file(self, selector: str, path: Path) -> None:
        """Picking a photo or a voice file (照片 / 语音 and the phone's picker): logged, not counted."""
        self.page.set_input_files(selector, str(path))
        self._log("file", path.name)

    def be(self, user: str) -> None:
        """我是 …: the simulator's user switch."""
        self.page.select_option("#user", user)
        self._log("simulator", f"我是 {user}")
        self.page.wait_for_function("u => document.querySelector('#user').value === u", arg=user)

    def clock(self, jump: str, label: str) -> None:
        self.page.click(f"[data-jump={jump}]")
        self._log("simulator", f"模拟时间 {label}")

    def shot(self, name: str, focus=None) -> None:
        """test-artifacts/walk/walk-PLATFORM-NAME.png, and docs/screenshots/ for the ones the docs show
        (DOC_SHOTS). `focus`: a card to scroll to the top of the chat first."""
        if focus is not None:
            focus.evaluate("e => e.scrollIntoView({block: 'start'})")
        shot(self.page, f"walk/walk-{self.platform}-{name}", docs=name in DOC_SHOTS[self.platform], full_page=False)

    # ---- what is on the screen
    def card(self, title: str, *, source: str | None = None):
        """The newest bot card whose title contains `title` (and whose source line is `source`)."""
        cards = self.page.locator("#messages .msg.bot .card").filter(
            has=self.page.locator(".title", has_text=title))
        if source:
            cards = cards.filter(has=self.page.locator(".source", has_text=source))
        return cards.last

    def button(self, card, text: str):
        return card.locator(".buttons button", has_text=text).first

    def bot_messages(self) -> int:
        return self.page.locator("#messages .msg.bot").count()


@pytest.fixture(scope="module")
def card_photo(tmp_path_factory) -> Path:
    card = cardgen.make_card(CARD_SEED)
    path = tmp_path_factory.mktemp("walk") / "名片.jpg"
    path.write_bytes(cardgen.photograph(card.image, CARD_SEED, turn=0))
    path.with_suffix(".json").write_text(json.dumps(card.truth.fields(), ensure_ascii=False))
    return path


def _open(browser, base: str, platform: str) -> Walk:
    page = phone_page(browser, base)
    page.set_default_timeout(30_000)
    page.goto(f"{base}/dev/simulator")
    page.wait_for_selector("#user option[value=rep1]", state="attached")
    # the demo was started for this platform: its tab is already chosen, rep1 (李明) is the user
    assert page.locator(".tab.active").get_attribute("data-platform") == platform
    assert page.locator("#user").input_value() == "rep1"
    return Walk(page, platform)


@pytest.mark.parametrize("platform", ["wecom", "dingtalk"])
def test_the_walk_counts_taps_within_the_budgets(browser, tmp_path, card_photo, platform):
    with running_demo(tmp_path, "--start", START, "--platform", platform) as base:
        walk = _open(browser, base, platform)
        try:
            _walk(walk, card_photo)
        finally:
            RESULTS[platform] = [{"step": s.name, "taps": s.taps, "simulator_taps": s.simulator_taps,
                                  "budget": s.budget, "actions": s.actions} for s in walk.steps]
            _write_results()
            walk.shot("last")
        page = walk.page
        expected = sorted(k for k in KNOWN_BREAKS if k.startswith(f"{platform}:"))
        assert sorted(walk.breaks) == expected, (
            "the known breaks changed (fixed? drop them from KNOWN_BREAKS): "
            + "; ".join(KNOWN_BREAKS[k] for k in set(expected) - set(walk.breaks)))
        assert page.js_errors == [] and page.foreign_requests == []
        assert page.evaluate("document.documentElement.scrollWidth") <= 375


def _walk(walk: Walk, card_photo: Path) -> None:
    page, platform = walk.page, walk.platform
    truth = json.loads(card_photo.with_suffix(".json").read_text())

    with walk.step("名片照片 → 客户", budget=1):
        walk.choose_file("#photo", card_photo)
        draft = walk.card("名片识别结果")
        draft.wait_for(timeout=SLOW)
        assert truth["mobile"] in draft.inner_text()
        walk.shot("card-draft", focus=draft)
        walk.tap(walk.button(draft, "确认创建"), "确认创建")
        page.wait_for_function("t => [...document.querySelectorAll('#messages .card')].some("
                               "c => c.innerText.includes('已创建客户') && c.innerText.includes(t))",
                               arg=truth["company"])
        walk.shot("customer-created", focus=walk.card("名片识别结果"))

    with walk.step("语音跟进", budget=1):
        walk.choose_file("#voice", AUDIO / "note_huadong.amr")
        voice = walk.card("语音跟进草稿")
        voice.wait_for(timeout=SLOW)
        assert "上海华东机电设备有限公司" in voice.inner_text()
        walk.tap(walk.button(voice, "确认"), "确认")
        voice.filter(has_text=LOGGED).wait_for()

    with walk.step("文字跟进（1次点击 + 备注）", budget=1):
        before = walk.bot_messages()
        walk.type(page.locator("#text"), "跟进 苏州精工 #已拜访 约了下周二演示")
        walk.tap(page.locator("#send"), "发送")
        page.wait_for_function("n => document.querySelectorAll('#messages .msg.bot').length > n", arg=before)
        reply = page.locator("#messages .msg.bot").last
        reply.filter(has_text=LOGGED).wait_for()
        assert "苏州精工" in reply.inner_text()

    if platform == "wecom":
        with walk.step("关联客户聊天", budget=2):
            walk.tap(page.locator(".conv", has_text="陈先生（华东机电）"), "客户聊天：陈先生（华东机电）")
            sidebar = page.frame_locator("#sidebar-frame")
            sidebar.locator("html[data-ready='1'] #link-search").wait_for()   # the page's script is ready
            walk.shot("customer-chat")
            walk.type(sidebar.locator("#link-search"), "华东")
            found = sidebar.locator("#link-results .cell", has_text="上海华东机电设备有限公司")
            walk.tap(found.locator("button", has_text="关联"), "关联")
            sidebar.locator("#followup").wait_for()   # the linked chat: the customer and its one-tap follow-up
            assert "上海华东机电设备有限公司" in sidebar.locator(".customer-head").inner_text()
            walk.shot("customer-chat-linked")
        with walk.step("回到助手聊天"):
            walk.tap(page.locator(".conv[data-chat='']"), "crmbot 销售助手")
            page.locator("#bot-chat").wait_for()

    with walk.step("转交线索（转交 → 选同事 → 确认）", budget=3):
        lead = walk.card("新线索：无锡恒达机械有限公司")
        walk.tap(walk.button(lead, "转交"), "转交")
        pick = walk.button(lead, "转给王芳")
        pick.wait_for()
        walk.shot("transfer-pick", focus=lead)
        walk.tap(pick, "转给王芳")
        lead.filter(has_text="已转交给王芳").wait_for()
        walk.check(walk.button(lead, "撤销").is_visible(), "undo-hidden")   # a few minutes to take it back
        assert "请在10分钟内认领" not in lead.inner_text()
        walk.shot("transferred", focus=lead)

    with walk.step("同事认领线索", budget=1):
        walk.be("rep2")
        lead = walk.card("新线索：无锡恒达机械有限公司")
        lead.wait_for()
        walk.tap(walk.button(lead, "认领"), "认领")
        lead.filter(has_text="已认领").wait_for()

    with walk.step("打开认领的客户"):
        opened = lead.locator(".buttons a", has_text="打开")
        with page.expect_popup() as popup:
            walk.tap(opened, "打开")
        customer = popup.value
        customer.wait_for_load_state()
        # the customer the lead became, as 王芳 (the simulator opens links as the simulated user)
        assert "/app/customers/" in customer.url, customer.url
        head = customer.locator(".customer-head").inner_text()
        assert "无锡恒达机械有限公司" in head and "负责人：王芳" in head
        customer.close()

    with walk.step("经理催办（白天，立即送达）", budget=1):
        walk.be("manager")
        overdue = walk.card("今日跟进：刘女士", source="升级给经理")
        overdue.wait_for()
        walk.tap(walk.button(overdue, "催办"), "催办")
        overdue.filter(has_text="已催办李明").wait_for()
        assert "免打扰" not in overdue.inner_text()
        walk.be("rep1")
        nudged = walk.card("今日跟进：刘女士", source="催办")
        nudged.wait_for()
        assert "钱经理" in nudged.inner_text()
        walk.shot("nudged", focus=nudged)

    with walk.step("经理催办（夜间，说明何时送达）", budget=1):
        walk.clock("tonight", "今晚22:00")
        page.locator("#clock-now", has_text="22:0").wait_for()
        walk.be("manager")
        overdue = walk.card("今日跟进：宁波东海贸易有限公司", source="升级给经理")
        overdue.wait_for()
        walk.tap(walk.button(overdue, "催办"), "催办")
        overdue.filter(has_text="对方处于免打扰时段，将在明天08:00送达").wait_for()
        walk.shot("nudge-at-night", focus=overdue)
        walk.be("rep2")
        held = page.locator("#held")
        held.filter(has_text="将在 12-02 08:00 送达").wait_for()
        assert walk.card("今日跟进：宁波东海贸易有限公司", source="催办").count() == 0   # not before 08:00
        walk.shot("held")

    with walk.step("第二天早上"):
        before = walk.bot_messages()
        walk.clock("tomorrow_10", "明天10:00")
        page.locator("#clock-now", has_text="12-02 周三 10:0").wait_for()
        walk.card("今日跟进：宁波东海贸易有限公司", source="催办").wait_for()
        page.wait_for_function("n => document.querySelectorAll('#messages .msg.bot').length > n + 1", arg=before)
        held.wait_for(state="hidden")
        walk.shot("next-morning")


def _write_results() -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "walk-taps.json").write_text(json.dumps(RESULTS, ensure_ascii=False, indent=1))
    lines = ["| 平台 | 步骤 | 点击 | 预算 | 模拟器操作 | 动作 |", "| --- | --- | --- | --- | --- | --- |"]
    for platform, steps in RESULTS.items():
        for s in steps:
            lines.append(f"| {platform} | {s['step']} | {s['taps']} | {s['budget'] if s['budget'] is not None else '—'} "
                         f"| {s['simulator_taps']} | {' → '.join(a['kind'] + ':' + a['what'] for a in s['actions'])} |")
    (ARTIFACTS / "walk-taps.md").write_text("\n".join(lines) + "\n")
    print("\n" + "\n".join(lines))
