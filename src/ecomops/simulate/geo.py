"""Where shoppers live and which warehouse serves them: provinces weighted by online spending, a few
cities each, and four regional warehouses (orders ship from the one serving the buyer's province)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Warehouse:
    code: str
    name_en: str
    name_zh: str
    region: str


WAREHOUSES = (
    Warehouse("WH-SH", "Shanghai East DC", "上海华东仓", "East China"),
    Warehouse("WH-GZ", "Guangzhou South DC", "广州华南仓", "South China"),
    Warehouse("WH-BJ", "Beijing North DC", "北京华北仓", "North China"),
    Warehouse("WH-CD", "Chengdu West DC", "成都西南仓", "Southwest China"),
)

# (province en, province zh, weight, warehouse index, [(city en, city zh, weight)])
PROVINCES: tuple[tuple[str, str, float, int, tuple[tuple[str, str, float], ...]], ...] = (
    (
        "Guangdong",
        "广东",
        14.0,
        1,
        (("Guangzhou", "广州", 4), ("Shenzhen", "深圳", 4), ("Dongguan", "东莞", 2), ("Foshan", "佛山", 1.5)),
    ),
    ("Zhejiang", "浙江", 9.0, 0, (("Hangzhou", "杭州", 4), ("Ningbo", "宁波", 2), ("Wenzhou", "温州", 1.5))),
    ("Jiangsu", "江苏", 9.0, 0, (("Nanjing", "南京", 3), ("Suzhou", "苏州", 3), ("Wuxi", "无锡", 1.5))),
    ("Shanghai", "上海", 7.0, 0, (("Shanghai", "上海", 1),)),
    ("Beijing", "北京", 6.0, 2, (("Beijing", "北京", 1),)),
    ("Shandong", "山东", 6.0, 2, (("Jinan", "济南", 2), ("Qingdao", "青岛", 2.5), ("Yantai", "烟台", 1))),
    ("Fujian", "福建", 4.5, 1, (("Xiamen", "厦门", 2), ("Fuzhou", "福州", 2), ("Quanzhou", "泉州", 1.5))),
    ("Sichuan", "四川", 4.5, 3, (("Chengdu", "成都", 4), ("Mianyang", "绵阳", 1))),
    ("Hubei", "湖北", 4.0, 0, (("Wuhan", "武汉", 4), ("Yichang", "宜昌", 1))),
    ("Henan", "河南", 4.0, 2, (("Zhengzhou", "郑州", 3), ("Luoyang", "洛阳", 1))),
    ("Hunan", "湖南", 3.5, 1, (("Changsha", "长沙", 3), ("Zhuzhou", "株洲", 1))),
    ("Hebei", "河北", 3.0, 2, (("Shijiazhuang", "石家庄", 2), ("Baoding", "保定", 1))),
    ("Anhui", "安徽", 3.0, 0, (("Hefei", "合肥", 3), ("Wuhu", "芜湖", 1))),
    ("Shaanxi", "陕西", 2.5, 3, (("Xi'an", "西安", 4),)),
    ("Chongqing", "重庆", 2.5, 3, (("Chongqing", "重庆", 1),)),
    ("Tianjin", "天津", 2.0, 2, (("Tianjin", "天津", 1),)),
    ("Liaoning", "辽宁", 2.5, 2, (("Shenyang", "沈阳", 2), ("Dalian", "大连", 2))),
    ("Jiangxi", "江西", 2.0, 0, (("Nanchang", "南昌", 2),)),
    ("Guangxi", "广西", 2.0, 1, (("Nanning", "南宁", 2), ("Guilin", "桂林", 1))),
    ("Yunnan", "云南", 1.8, 3, (("Kunming", "昆明", 2),)),
    ("Heilongjiang", "黑龙江", 1.5, 2, (("Harbin", "哈尔滨", 2),)),
    ("Shanxi", "山西", 1.5, 2, (("Taiyuan", "太原", 2),)),
    ("Guizhou", "贵州", 1.2, 3, (("Guiyang", "贵阳", 2),)),
)


@dataclass(frozen=True)
class Geo:
    """Flat city table: every city knows its province and warehouse; sampling picks cities directly."""

    city_en: list[str]
    city_zh: list[str]
    city_province: np.ndarray
    city_weight: np.ndarray
    province_en: list[str]
    province_zh: list[str]
    province_warehouse: np.ndarray

    @property
    def city_warehouse(self) -> np.ndarray:
        return np.asarray(self.province_warehouse[self.city_province])

    def sample_cities(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.choice(len(self.city_en), size=n, p=self.city_weight).astype(np.int16)

    def city_index(self, city_en: str) -> int:
        return self.city_en.index(city_en)


def build_geo() -> Geo:
    city_en: list[str] = []
    city_zh: list[str] = []
    city_province: list[int] = []
    weights: list[float] = []
    for p, (_, _, pw, _, cities) in enumerate(PROVINCES):
        total = sum(c[2] for c in cities)
        for en, zh, cw in cities:
            city_en.append(en)
            city_zh.append(zh)
            city_province.append(p)
            weights.append(pw * cw / total)
    w = np.array(weights)
    return Geo(
        city_en,
        city_zh,
        np.array(city_province, dtype=np.int16),
        w / w.sum(),
        [p[0] for p in PROVINCES],
        [p[1] for p in PROVINCES],
        np.array([p[3] for p in PROVINCES], dtype=np.int8),
    )
