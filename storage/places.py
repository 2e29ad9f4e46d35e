"""Place names that open (or close) Chinese company names: provinces and their main cities.

Used by storage/dedupe.py to take "上海" off "上海华东机电设备有限公司" while remembering it, so
"上海华东机电" and "杭州华东机电" (same brand, different city) are never merged blindly. This is
geography, not a business rule, so it lives in code rather than in the playbook; the list covers
every province-level division and the prefecture-level cities that most often prefix a company
name. A city missing here is simply kept in the name (the fuzzy score still sees it).
"""
from __future__ import annotations

# province (short form) → its cities (short forms, without 市)
PROVINCE_CITIES: dict[str, tuple[str, ...]] = {
    "北京": ("北京",), "上海": ("上海",), "天津": ("天津",), "重庆": ("重庆",),
    "河北": ("石家庄", "唐山", "秦皇岛", "邯郸", "邢台", "保定", "张家口", "承德", "沧州", "廊坊", "衡水"),
    "山西": ("太原", "大同", "阳泉", "长治", "晋城", "朔州", "晋中", "运城", "忻州", "临汾", "吕梁"),
    "内蒙古": ("呼和浩特", "包头", "乌海", "赤峰", "通辽", "鄂尔多斯", "呼伦贝尔"),
    "辽宁": ("沈阳", "大连", "鞍山", "抚顺", "本溪", "丹东", "锦州", "营口", "阜新", "辽阳", "盘锦", "铁岭"),
    "吉林": ("长春", "吉林", "四平", "辽源", "通化", "白山", "松原", "白城", "延边"),
    "黑龙江": ("哈尔滨", "齐齐哈尔", "鸡西", "鹤岗", "双鸭山", "大庆", "伊春", "佳木斯", "牡丹江", "黑河"),
    "江苏": ("南京", "无锡", "徐州", "常州", "苏州", "南通", "连云港", "淮安", "盐城", "扬州", "镇江",
             "泰州", "宿迁", "昆山", "江阴", "张家港", "常熟"),
    "浙江": ("杭州", "宁波", "温州", "嘉兴", "湖州", "绍兴", "金华", "衢州", "舟山", "台州", "丽水",
             "义乌", "慈溪", "余姚"),
    "安徽": ("合肥", "芜湖", "蚌埠", "淮南", "马鞍山", "淮北", "铜陵", "安庆", "黄山", "滁州", "阜阳",
             "宿州", "六安", "亳州", "池州", "宣城"),
    "福建": ("福州", "厦门", "莆田", "三明", "泉州", "漳州", "南平", "龙岩", "宁德", "晋江"),
    "江西": ("南昌", "景德镇", "萍乡", "九江", "新余", "鹰潭", "赣州", "吉安", "宜春", "抚州", "上饶"),
    "山东": ("济南", "青岛", "淄博", "枣庄", "东营", "烟台", "潍坊", "济宁", "泰安", "威海", "日照",
             "临沂", "德州", "聊城", "滨州", "菏泽"),
    "河南": ("郑州", "开封", "洛阳", "平顶山", "安阳", "鹤壁", "新乡", "焦作", "濮阳", "许昌", "漯河",
             "三门峡", "南阳", "商丘", "信阳", "周口", "驻马店"),
    "湖北": ("武汉", "黄石", "十堰", "宜昌", "襄阳", "鄂州", "荆门", "孝感", "荆州", "黄冈", "咸宁", "随州"),
    "湖南": ("长沙", "株洲", "湘潭", "衡阳", "邵阳", "岳阳", "常德", "张家界", "益阳", "郴州", "永州",
             "怀化", "娄底"),
    "广东": ("广州", "韶关", "深圳", "珠海", "汕头", "佛山", "江门", "湛江", "茂名", "肇庆", "惠州",
             "梅州", "汕尾", "河源", "阳江", "清远", "东莞", "中山", "潮州", "揭阳", "云浮", "顺德"),
    "广西": ("南宁", "柳州", "桂林", "梧州", "北海", "防城港", "钦州", "贵港", "玉林", "百色"),
    "海南": ("海口", "三亚", "儋州"),
    "四川": ("成都", "自贡", "攀枝花", "泸州", "德阳", "绵阳", "广元", "遂宁", "内江", "乐山", "南充",
             "眉山", "宜宾", "广安", "达州", "雅安"),
    "贵州": ("贵阳", "六盘水", "遵义", "安顺", "毕节", "铜仁"),
    "云南": ("昆明", "曲靖", "玉溪", "保山", "昭通", "丽江", "普洱", "临沧", "大理"),
    "西藏": ("拉萨", "日喀则"),
    "陕西": ("西安", "铜川", "宝鸡", "咸阳", "渭南", "延安", "汉中", "榆林", "安康", "商洛"),
    "甘肃": ("兰州", "嘉峪关", "金昌", "白银", "天水", "武威", "张掖", "平凉", "酒泉", "庆阳"),
    "青海": ("西宁", "海东"),
    "宁夏": ("银川", "石嘴山", "吴忠", "固原", "中卫"),
    "新疆": ("乌鲁木齐", "克拉玛依", "吐鲁番", "哈密", "喀什", "伊犁"),
    "香港": ("香港",), "澳门": ("澳门",), "台湾": ("台北", "高雄", "台中"),
}

# Long forms as they are written in full names, shortest form last so the longest wins.
PROVINCE_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "省", "市")
CITY_SUFFIXES = ("市",)

CITY_PROVINCE: dict[str, str] = {city: province for province, cities in PROVINCE_CITIES.items()
                                 for city in cities}
# Longest first: "张家港" before "张家", "石家庄" before "石家".
PROVINCES = tuple(sorted(PROVINCE_CITIES, key=len, reverse=True))
CITIES = tuple(sorted(CITY_PROVINCE, key=len, reverse=True))
# Words that name the whole country, not a place: "华为技术（中国）有限公司".
COUNTRY_WORDS = ("中华人民共和国", "中国")


def compatible(a: str | None, b: str | None) -> bool:
    """Two places that can be the same company's: equal, unknown, or a province and one of its cities."""
    if not a or not b or a == b:
        return True
    return CITY_PROVINCE.get(a) == b or CITY_PROVINCE.get(b) == a
