from pathlib import Path

import pytest

from config.playbook import PlaybookError, load_playbook
from config.settings import DEFAULT_PLAYBOOK, SettingsError, load_settings


def test_default_playbook_loads_with_the_business_words():
    pb = load_playbook(DEFAULT_PLAYBOOK)
    labels = [t.label for t in pb.tags]
    for label in ("已报价", "竞品对比中", "老板未拍板", "需技术介入", "等待决策", "已约演示", "暂缓"):
        assert label in labels
    assert "客户预算未批复" in pb.tag("暂缓").reasons
    assert pb.stage("negotiation").checklist == ("已发送正式报价单", "已标注客户重点关注条款", "已预约法务初审会议")
    assert pb.stage("won").steps == ("法务终审通过", "客户用印", "我方用印", "首付款到账")
    assert pb.rules.first_contact.within_minutes == 120 and pb.rules.claim_timeout.minutes == 10
    assert pb.rules.escalation.manager_after_hours == 24 and pb.rules.escalation.director_after_hours == 48
    assert str(pb.quiet_hours.start) == "22:00:00" and str(pb.reports.daily_at) == "10:00:00"
    assert str(pb.working_hours.start) == "09:00:00" and str(pb.working_hours.lunch_end) == "13:00:00"


def test_working_hours_errors_say_why(tmp_path):
    path = _broken(tmp_path, 'end = "18:00"', 'end = "23:00"')
    with pytest.raises(PlaybookError, match="overlap quiet_hours at 22:00"):
        load_playbook(path)
    path = _broken(tmp_path, 'lunch_end = "13:00"', "")
    with pytest.raises(PlaybookError, match="both lunch_start and lunch_end"):
        load_playbook(path)


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = DEFAULT_PLAYBOOK.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "playbook.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize("old, new, key", [
    ("\ndays = 30", "\ndays = -1", "rules.silent_customer.days"),
    ('start = "22:00"', 'start = "25:99"', "quiet_hours.start"),
    ("manager_after_hours = 24", "manager_after_hours = 72", "rules.escalation"),
    ('strategy = "least_load"', 'strategy = "random"', "assignment.1.strategy"),
    ('label = "已报价"', 'label = "暂缓"', "tags"),
    ("[rules.claim_timeout]\nminutes = 10", "[rules.claim_timeout]\nminutes = 10\nmnutes = 3",
     "rules.claim_timeout.mnutes"),
    ("  '报过去',", "  '报过去(',", "tags.0.phrases"),
    ("'需等法务审核' = ", "'需等法务' = ", "tags.6"),
    ('[working_hours]\nstart = "09:00"', '[working_hours]\nstart = "9点"', "working_hours.start"),
    ('[working_hours]\nstart = "09:00"', '[working_hours]\nstart = "19:00"', "working_hours"),
    ('[working_hours]\nstart = "09:00"', '[working_hours]\nstart = "07:30"', "working_hours"),  # in quiet hours
    ('end = "18:00"', 'end = "23:00"', "working_hours"),
    ('lunch_start = "12:00"', 'lunch_start = "08:30"', "working_hours"),
    ('lunch_end = "13:00"', 'lunch_start_typo = "13:00"', "working_hours"),
])
def test_broken_playbook_names_file_and_key(tmp_path, old, new, key):
    path = _broken(tmp_path, old, new)
    with pytest.raises(PlaybookError) as err:
        load_playbook(path)
    assert err.value.path == str(path)
    assert err.value.key.startswith(key), err.value
    assert str(path) in str(err.value)


def test_not_toml_and_missing_file(tmp_path):
    bad = tmp_path / "p.toml"
    bad.write_text("tags = [", encoding="utf-8")
    with pytest.raises(PlaybookError, match="not valid TOML"):
        load_playbook(bad)
    with pytest.raises(PlaybookError, match="file not found"):
        load_playbook(tmp_path / "none.toml")


def test_settings_name_the_bad_variable(monkeypatch):
    monkeypatch.setenv("CRMBOT_REDIS_URL", "localhost:6379")
    with pytest.raises(SettingsError, match="CRMBOT_REDIS_URL"):
        load_settings()
    monkeypatch.delenv("CRMBOT_REDIS_URL")
    monkeypatch.setenv("WECOM_AGENT_ID", "abc")
    with pytest.raises(SettingsError, match="WECOM_AGENT_ID"):
        load_settings()
    monkeypatch.setenv("WECOM_AGENT_ID", "1000002")
    monkeypatch.setenv("CRMBOT_DATABASE_URL", "postgresql://u@h/db")
    settings = load_settings()
    assert settings.wecom_agent_id == 1000002
    assert settings.crmbot_database_url == "postgresql+psycopg://u@h/db"


def test_discount_tiers_are_validated(tmp_path):
    pb = load_playbook(DEFAULT_PLAYBOOK)
    assert [(t.up_to_percent, t.approver, t.copy_to) for t in pb.approvals.discount_tiers] == [
        (5, "rep", None), (10, "manager", "director"), (100, "director", "manager")]
    assert pb.approvals.tier_for(5).approver == "rep" and pb.approvals.tier_for(5.01).approver == "manager"
    assert pb.approvals.tier_for(12).approver == "director"
    with pytest.raises(PlaybookError, match="must increase"):
        load_playbook(_broken(tmp_path, "up_to_percent = 10", "up_to_percent = 3"))
    with pytest.raises(PlaybookError, match="copy_to and copy_above_amount go together"):
        load_playbook(_broken(tmp_path, 'copy_to = "director"', ""))
    with pytest.raises(PlaybookError, match="approver"):
        load_playbook(_broken(tmp_path, 'approver = "director"', 'approver = "boss"'))
