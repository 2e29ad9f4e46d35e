"""`crmbot demo`: the whole product on one machine with no accounts — SQLite under instance/,
an in-process queue, and the fake WeCom and DingTalk served by the same process under /dev/fake/.
Keys come from the WECOM_* / DINGTALK_* variables when set, else from made-up demo values."""
from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

import click

from config.clock import ManualClock, SystemClock
from config.playbook import Playbook, load_playbook
from config.worktime import WorkCalendar

from .runtime import Runtime

# Made-up demo credentials (not real accounts); the fake platforms accept exactly these.
DEMO_ENV = {
    "WECOM_CORP_ID": "wwdemo0000000001",
    "WECOM_AGENT_ID": "1000002",
    "WECOM_SECRET": "demo-wecom-secret",
    "WECOM_TOKEN": "crmbotdemo",
    "WECOM_ENCODING_AES_KEY": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    "DINGTALK_APP_KEY": "dingdemoappkey",
    "DINGTALK_APP_SECRET": "demo-dingtalk-secret",
    "DINGTALK_ROBOT_CODE": "dingdemoappkey",
    "DINGTALK_AGENT_ID": "3000001",
    "DINGTALK_CORP_ID": "dingdemo000000001",
    # DingTalk interactive cards (create + update in place), as a configured app has them; clicks
    # come back over HTTP to /dingtalk/card-callback under this route key
    "DINGTALK_CARD_TEMPLATE_ID": "crmbot_demo_card.schema",
    "CRMBOT_DINGTALK_CARD_ROUTE_KEY": "crmbot-demo",
}


def demo_environment(host: str, port: int, db_path: Path | None) -> dict[str, str]:
    base = f"http://{host}:{port}"
    env = dict(DEMO_ENV)
    env.update({k: v for k, v in os.environ.items() if k in DEMO_ENV})
    env.setdefault("WECOM_API_BASE", os.environ.get("WECOM_API_BASE", f"{base}/dev/fake/wecom"))
    env.setdefault("DINGTALK_API_BASE", os.environ.get("DINGTALK_API_BASE", f"{base}/dev/fake/dingtalk"))
    env.setdefault("DINGTALK_OAPI_BASE", os.environ.get("DINGTALK_OAPI_BASE", f"{base}/dev/fake/dingtalk"))
    db_file = (db_path or Path("instance") / "demo.db").resolve()
    env["CRMBOT_DATABASE_URL"] = f"sqlite:///{db_file}"
    env["CRMBOT_DEMO"] = "1"
    env["CRMBOT_PUBLIC_URL"] = base
    env.pop("CRMBOT_REDIS_URL", None)
    return env


def demo_clock(playbook: Playbook, wall: datetime | None = None, start: datetime | None = None) -> ManualClock:
    """The demo's clock runs from `start` when given (`crmbot demo --start`: a scripted walk, or a
    demo of a chosen day), else from now, or — started at night, on a weekend or a holiday — from
    the team's next working morning, so the demo shows a working day instead of holding every message."""
    if start is not None:
        return ManualClock(start, running=True)
    wall = wall or SystemClock().now()
    calendar = WorkCalendar.from_playbook(playbook)
    start = wall if calendar.is_working_time(wall) else calendar.next_working_moment(wall) + timedelta(hours=1)
    return ManualClock(start, running=True)


def run_demo(host: str, port: int, db_path: Path | None, *, start: datetime | None = None,
             platform: str = "wecom") -> None:
    """`platform`: where the demo users are reached until they write on the other one (the
    simulator's tab decides what a person sees; the reminders go where the user last wrote)."""
    from config.settings import load_settings
    from storage.migrate import upgrade

    from .app import create_app
    from .demo_data import add_demo_chats, seed_demo

    env = demo_environment(host, port, db_path)
    os.environ.update(env)
    os.environ.pop("CRMBOT_REDIS_URL", None)  # the demo runs its jobs in-process
    settings = load_settings()
    upgrade(settings.crmbot_database_url)
    runtime = Runtime.build(settings, clock=demo_clock(load_playbook(settings.crmbot_playbook), start=start))
    app = create_app(settings, runtime)
    with runtime.db.transaction() as session:
        seed_demo(session, runtime.playbook, now=runtime.clock.now(), platform=platform)
        # the reps' WeCom customers, for the simulator's 客户聊天 (the sidebar reads them from the fake)
        add_demo_chats(session, app.extensions["crmbot_fakes"].wecom, now=runtime.clock.now())
    app.config["CRMBOT_DEMO_PLATFORM"] = platform
    # the periodic rule scans, as `crmbot scheduler` runs them in production
    import threading

    from jobs.scheduler import run_scheduler
    threading.Thread(target=run_scheduler, args=(runtime.redis, runtime.queue), name="crmbot-scheduler",
                     daemon=True).start()
    base = settings.crmbot_public_url
    click.echo(f"crmbot demo running at {base}/\n"
               f"  health:     {base}/healthz\n"
               f"  simulator:  {base}/dev/simulator\n"
               f"  mini-app:   {base}/app/dev-login?user=rep1\n"
               f"  模拟时间:   {runtime.clock.now().astimezone(runtime.playbook.tz):%Y-%m-%d %H:%M}"
               f"（在模拟器顶部可以跳到今晚{runtime.playbook.quiet_hours.start:%H:%M}、明天10:00、+2小时、+1天）\n"
               f"  客户聊天:   {base}/dev/simulator 企业微信下点“客户聊天：…”，侧边栏里可以关联客户\n"
               f"  fake WeCom: {base}/dev/fake/wecom/sent   fake DingTalk: {base}/dev/fake/dingtalk/sent\n"
               f"  database:   {settings.crmbot_database_url}")
    from werkzeug.serving import run_simple
    run_simple(host, port, app, threaded=True, use_reloader=False)
