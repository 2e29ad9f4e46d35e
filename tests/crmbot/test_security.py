"""Issue 15: no start without CRMBOT_SECRET_KEY outside the demo, and no secret in the logs."""
from __future__ import annotations

import io
import logging

import pytest
from click.testing import CliRunner

from bot.wecom.client import WeComClient
from bot.wecom.fake import FakeWeComState, start_fake_wecom
from config.settings import SettingsError, load_settings
from crmbot.app import create_app
from crmbot.cli import main
from crmbot.security import RedactSecrets, install_log_redaction, redact


def test_app_refuses_to_start_without_a_secret_key(database):
    with pytest.raises(SettingsError, match="CRMBOT_SECRET_KEY"):
        create_app(load_settings(crmbot_database_url=database.url))


def test_serve_refuses_before_forking_workers(monkeypatch, tmp_path):
    monkeypatch.delenv("CRMBOT_SECRET_KEY", raising=False)
    monkeypatch.setenv("CRMBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    result = CliRunner().invoke(main, ["serve", "--port", "1"])
    assert result.exit_code == 1
    assert "CRMBOT_SECRET_KEY" in result.output


def test_the_demo_makes_up_its_own_key(database, redis_conn):
    from crmbot.runtime import Runtime
    from jobs.queue import InlineQueue
    from jobs.runtime import set_runtime
    settings = load_settings(crmbot_database_url=database.url, crmbot_demo=True)
    try:
        app = create_app(settings, Runtime(settings, None, database, redis_conn, InlineQueue()))
        assert len(app.config["SECRET_KEY"]) >= 32
    finally:
        set_runtime(None)


@pytest.mark.parametrize("line, secret", [
    ("GET https://qyapi.weixin.qq.com/cgi-bin/gettoken?corpid=ww1&corpsecret=S3CR3T HTTP/1.1", "S3CR3T"),
    ("POST /cgi-bin/message/send?access_token=TOK123 200", "TOK123"),
    ('{"errcode": 0, "access_token": "TOK456", "expires_in": 7200}', "TOK456"),
    ("{'appKey': 'k', 'appSecret': 'DSECRET'}", "DSECRET"),
    ('{"accessToken": "NEWTOK", "expireIn": 7200}', "NEWTOK"),
    ("headers={'x-acs-dingtalk-access-token': 'HDRTOK'}", "HDRTOK"),
    ("/app/login/wecom/callback?code=OAUTHCODE&state=s", "OAUTHCODE"),
    ("GET /get_jsapi_ticket?access_token=A1 -> ticket=T1", "T1"),
])
def test_redact_masks_secrets(line, secret):
    assert secret not in redact(line)
    assert redact("errcode=40014") == "errcode=40014"  # not a secret


def test_real_client_at_debug_logs_no_secret_and_no_token(redis_conn):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    install_log_redaction()
    url, state, stop = start_fake_wecom(FakeWeComState(corp_id="wwlog", secret="CORP-SECRET-XYZ", agent_id=1))
    try:
        client = WeComClient(url, "wwlog", "CORP-SECRET-XYZ", 1, redis_conn)
        token = client.access_token()
        logging.getLogger("test").warning("got %s from %s", {"access_token": token},
                                          f"{url}/cgi-bin/gettoken?corpid=wwlog&corpsecret=CORP-SECRET-XYZ")
        try:
            raise RuntimeError(f"500 for url: {url}/cgi-bin/gettoken?corpid=wwlog&corpsecret=CORP-SECRET-XYZ")
        except RuntimeError:
            logging.getLogger("test").exception("token fetch failed")
    finally:
        stop()
        root.removeHandler(handler)
        root.setLevel(old_level)
    logged = stream.getvalue()
    assert "gettoken" in logged  # urllib3 / our client did log the URL …
    assert "CORP-SECRET-XYZ" not in logged  # … without the secret
    assert token not in logged


def test_filter_is_installed_once_per_handler():
    logger = logging.getLogger("crmbot-test-once")
    handler = logging.StreamHandler(io.StringIO())
    logger.addHandler(handler)
    install_log_redaction(logger)
    install_log_redaction(logger)
    assert sum(isinstance(f, RedactSecrets) for f in handler.filters) == 1
