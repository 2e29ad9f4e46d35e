"""Demo-only tools: the fake WeCom and DingTalk served by the app itself under /dev/fake/, and the
IM simulator page /dev/simulator (crmbot/simulator/).

The fakes are configured with the app's own keys, so the real clients (WECOM_API_BASE /
DINGTALK_*_BASE point here in `crmbot demo`) authenticate against them exactly as against the real
platforms. Each fake lists what it received at GET …/sent. Their states stay reachable as
app.extensions["crmbot_fakes"] for the simulator and for tests.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

from bot.dingtalk import fake as dt_fake
from bot.wecom import fake as wc_fake

WECOM_PREFIX = "/dev/fake/wecom"
DINGTALK_PREFIX = "/dev/fake/dingtalk"


@dataclass
class Fakes:
    wecom: wc_fake.FakeWeComState
    dingtalk: dt_fake.FakeDingTalkState


def build_fakes(settings) -> Fakes:
    """Fake platform states that accept exactly this app's credentials."""
    wecom = wc_fake.FakeWeComState(
        corp_id=settings.wecom_corp_id or wc_fake.FakeWeComState.corp_id,
        secret=settings.wecom_secret or wc_fake.FakeWeComState.secret,
        agent_id=settings.wecom_agent_id or wc_fake.FakeWeComState.agent_id)
    dingtalk = dt_fake.FakeDingTalkState(
        app_key=settings.dingtalk_app_key or dt_fake.FAKE_APP_KEY,
        app_secret=settings.dingtalk_app_secret or dt_fake.FAKE_APP_SECRET,
        robot_code=settings.dingtalk_robot_code,
        agent_id=settings.dingtalk_agent_id or dt_fake.FAKE_AGENT_ID,
        corp_id=settings.dingtalk_corp_id or dt_fake.FAKE_CORP_ID,
        # session webhooks the fake hands out must point back at this mount
        base_url=settings.crmbot_public_url.rstrip("/") + DINGTALK_PREFIX)
    return Fakes(wecom=wecom, dingtalk=dingtalk)


def init_app(app: Flask) -> None:
    runtime = app.extensions["crmbot"]
    if not runtime.settings.crmbot_demo:
        return  # never expose fake platforms outside the demo
    fakes = build_fakes(runtime.settings)
    app.register_blueprint(wc_fake.create_fake_wecom_blueprint(fakes.wecom), url_prefix=WECOM_PREFIX)
    app.register_blueprint(dt_fake.create_fake_dingtalk_blueprint(fakes.dingtalk), url_prefix=DINGTALK_PREFIX)
    app.extensions["crmbot_fakes"] = fakes

    from .simulator import views
    views.init_app(app)
