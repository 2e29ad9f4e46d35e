"""The playbook's [import] section: synonyms and the term dictionary are checked at load time."""
from pathlib import Path

import pytest

from config.playbook import PlaybookError, load_playbook
from config.settings import DEFAULT_PLAYBOOK


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = DEFAULT_PLAYBOOK.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "playbook.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_default_import_words():
    rules = load_playbook(DEFAULT_PLAYBOOK).imports
    assert {"客户名称", "公司名称", "单位名称"} <= set(rules.columns["customer_name"])
    assert {"手机", "手机号", "联系电话"} <= set(rules.columns["mobile"])
    assert {"负责人", "销售", "业务员"} <= set(rules.columns["owner"])
    assert rules.terms["grade"]["意向客户"] == "A" and rules.terms["stage"]["已成交"] == "won"


@pytest.mark.parametrize("old, new, key", [
    ('"意向客户" = "A"', '"意向客户" = "A级"', "import.terms.grade.意向客户"),
    ('"已成交" = "won"', '"已成交" = "成交"', "import.terms.stage.已成交"),
    ('"报价" = "已报价"', '"报价" = "报价"', "import.terms.tags.报价"),
    ('stage = ["阶段",', 'stages = ["阶段",', "import.columns.stages"),
    ('author = ["跟进人",', 'author = ["负责人",', "import.columns.author"),
])
def test_a_wrong_import_entry_names_its_key(tmp_path, old, new, key):
    with pytest.raises(PlaybookError) as err:
        load_playbook(_broken(tmp_path, old, new))
    assert err.value.key.startswith(key), err.value
