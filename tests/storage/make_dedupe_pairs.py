"""Builds tests/storage/dedupe_pairs.jsonl, the labelled name pairs for the duplicate check.

The companies are realistic but invented (city, brand, trade); each gives the variants reps really
type for the same company (全称 / 简称 with city / full-width and ASCII brackets / homophone typo /
分公司 / spaces) and true non-duplicates (same brand in another city, same brand in another trade,
a neighbouring brand in the same trade). Run it again only to extend the set; the JSONL is the
reviewed artefact (each line: a, b, dup, kind).
"""
from __future__ import annotations

import json
import random
from pathlib import Path

# (city, other city of the same brand, brand, trade, another trade)
COMPANIES = [
    ("上海", "杭州", "华东", "机电设备", "化工"), ("宁波", "温州", "东海", "贸易", "物流"),
    ("杭州", "南京", "西子", "电梯", "酒店管理"), ("苏州", "无锡", "金螳螂", "建筑装饰", "家居"),
    ("深圳", "东莞", "华南", "电子科技", "食品"), ("广州", "佛山", "白云", "电器设备", "制药"),
    ("北京", "天津", "京华", "信息技术", "文化传媒"), ("成都", "重庆", "天府", "软件", "餐饮管理"),
    ("武汉", "长沙", "楚天", "激光", "物业管理"), ("西安", "兰州", "秦川", "机床", "旅游"),
    ("南京", "合肥", "金陵", "石化", "建设"), ("青岛", "烟台", "海信", "精密模具", "海洋渔业"),
    ("厦门", "福州", "鹭岛", "进出口", "教育咨询"), ("郑州", "洛阳", "中原", "重工", "农业"),
    ("济南", "潍坊", "齐鲁", "医药", "纺织"), ("长沙", "株洲", "湘江", "新材料", "传媒"),
    ("沈阳", "大连", "北方", "重型机械", "水产"), ("昆明", "大理", "滇池", "生物科技", "茶业"),
    ("合肥", "芜湖", "科大", "智能", "环保"), ("天津", "唐山", "渤海", "钢铁", "物流"),
    ("无锡", "常州", "太湖", "水务", "纺织"), ("佛山", "中山", "顺成", "陶瓷", "家具"),
    ("东莞", "惠州", "松湖", "五金制品", "塑胶"), ("温州", "台州", "瓯江", "鞋业", "阀门"),
    ("绍兴", "嘉兴", "越州", "纺织印染", "黄酒"), ("嘉兴", "湖州", "南湖", "新能源", "电缆"),
    ("常州", "镇江", "龙城", "精工", "电池"), ("南通", "扬州", "江海", "船舶", "家纺"),
    ("泉州", "漳州", "刺桐", "服装", "石材"), ("福州", "莆田", "榕城", "电力工程", "茶叶"),
    ("南昌", "九江", "洪都", "航空配件", "米业"), ("太原", "大同", "晋阳", "煤机", "醋业"),
    ("石家庄", "保定", "冀中", "制药", "能源"), ("哈尔滨", "大庆", "冰城", "电站设备", "乳业"),
    ("长春", "四平", "一汽", "汽车部件", "物流"), ("贵阳", "遵义", "黔灵", "大数据", "酒业"),
    ("南宁", "柳州", "邕江", "糖业", "汽车"), ("海口", "三亚", "椰城", "旅游开发", "热带农业"),
    ("乌鲁木齐", "克拉玛依", "天山", "纺织", "石油服务"), ("兰州", "天水", "陇原", "化工", "中药材"),
    ("宁波", "舟山", "甬江", "港口机械", "水产"), ("苏州", "昆山", "吴中", "电子", "丝绸"),
    ("杭州", "绍兴", "钱江", "摩托", "啤酒"), ("上海", "苏州", "浦江", "仪表", "餐饮"),
    ("深圳", "广州", "鹏城", "通信", "物业"), ("重庆", "成都", "山城", "汽车摩托", "火锅餐饮"),
    ("珠海", "中山", "格力达", "空调配件", "地产"), ("烟台", "威海", "张裕", "葡萄酒", "包装"),
    ("徐州", "连云港", "彭城", "工程机械", "食品"), ("洛阳", "开封", "洛钼", "矿业", "文旅"),
    ("扬州", "泰州", "维扬", "玉器", "化工"), ("湖州", "德州", "安吉", "竹木", "茶业"),
    ("金华", "义乌", "婺城", "五金", "火腿"), ("台州", "温州", "椒江", "医化", "模具"),
    ("芜湖", "马鞍山", "皖江", "汽车零部件", "钢构"), ("泰安", "济宁", "泰山", "石膏建材", "旅游"),
    ("唐山", "秦皇岛", "冀东", "水泥", "陶瓷"), ("宜昌", "襄阳", "三峡", "水电", "柑橘"),
    ("株洲", "湘潭", "南车", "电力机车", "硬质合金"), ("绵阳", "德阳", "长虹", "电子", "物流"),
]
HOMOPHONES = {"东": "冬", "华": "化", "海": "还", "江": "疆", "天": "添", "中": "忠", "南": "楠",
              "山": "珊", "城": "成", "金": "今", "京": "晶", "湖": "胡", "西": "希", "州": "洲",
              "川": "穿", "原": "园", "鲁": "路", "北": "贝", "科": "可", "一": "壹", "信": "新",
              "龙": "隆", "河": "和", "阳": "洋", "都": "督", "邕": "拥", "长": "常", "松": "嵩"}
# a neighbouring brand: another real word, not a homophone (华东 vs 华南 are different companies)
NEIGHBOURS = {"东": "南", "南": "北", "北": "西", "西": "东", "海": "湖", "湖": "海", "江": "河",
              "河": "江", "天": "地", "山": "水", "中": "东", "金": "银", "京": "津", "城": "州",
              "州": "城", "阳": "明", "原": "州", "川": "江", "都": "城", "科": "华", "龙": "凤",
              "一": "二", "长": "远", "鲁": "豫", "新": "大", "信": "诚"}
LEGAL = ["有限公司", "股份有限公司", "有限责任公司", "集团有限公司"]


def short_trade(trade: str) -> str:
    return trade[:2] if len(trade) >= 4 else trade


def swap(brand: str, table: dict[str, str]) -> str | None:
    for i, ch in enumerate(brand):
        if ch in table:
            return brand[:i] + table[ch] + brand[i + 1:]
    return None


def pairs() -> list[dict]:
    rnd = random.Random(11)
    out = []

    def add(a, b, dup, kind):
        out.append({"a": a, "b": b, "dup": dup, "kind": kind})

    for i, (city, city2, brand, trade, trade2) in enumerate(COMPANIES):
        legal = LEGAL[i % len(LEGAL)]
        full = f"{city}{brand}{trade}{legal}"
        add(full, f"{city}{brand}{short_trade(trade)}", True, "short_with_city")
        add(full, f"{brand}{trade}（{city}）有限公司", True, "fullwidth_brackets")
        if i % 2 == 0:
            add(f"{brand}{trade}({city})有限公司", f"{city}{brand}{short_trade(trade)}", True, "ascii_brackets")
        else:
            add(full, f"{brand}{trade}有限公司{city}分公司", True, "branch_same_city")
        typo = swap(brand, HOMOPHONES)
        if typo:
            add(full, f"{city}{typo}{trade}", True, "homophone_typo")
        if i % 3 == 0:
            add(full, f" {city} {brand}·{trade} 有限公司 ", True, "spaces_punct")
        elif i % 3 == 1:
            add(full, f"{brand}{trade}", True, "short_without_city")
        else:
            add(f"{city}市{brand}{trade}{legal}", f"{brand}{trade}集团", True, "group_suffix")
        # true non-duplicates
        add(full, f"{city2}{brand}{trade}{legal}", False, "same_brand_other_city")
        add(full, f"{city}{brand}{trade2}有限公司", False, "same_brand_other_trade")
        neighbour = swap(brand, NEIGHBOURS)
        if neighbour:
            add(full, f"{city}{neighbour}{trade}有限公司", False, "neighbour_brand_same_trade")
        if i % 2 == 1:
            add(f"{brand}{trade}有限公司{city}分公司", f"{brand}{trade}有限公司{city2}分公司", False,
                "branch_other_city")
        other = COMPANIES[(i + 7) % len(COMPANIES)]
        add(full, f"{city}{other[2]}{trade}有限公司", False, "other_brand_same_city_trade")
    rnd.shuffle(out)
    return out


if __name__ == "__main__":
    path = Path(__file__).with_name("dedupe_pairs.jsonl")
    rows = pairs()
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(len(rows), "pairs;", sum(r["dup"] for r in rows), "duplicates ->", path)
