"""Encodings: GBK/GB18030 exports from Chinese platforms, UTF-8 with BOM, gzip, late non-UTF-8 bytes."""

from __future__ import annotations

import gzip
from decimal import Decimal
from pathlib import Path

import pytest

from ecomops.kernel.errors import ValidationFailed
from tests.imports.conftest import Importer

TAOBAO_HEADER = [
    "订单编号",
    "买家会员名",
    "下单时间",
    "商家编码",
    "宝贝标题",
    "购买数量",
    "单价",
    "订单状态",
    "收货地址省份",
]
TAOBAO_ROWS = [
    [
        "1928374650001",
        "小明",
        "2024-03-08 21:15:00",
        "TS-001",
        "纯棉短袖T恤 男款（白色）",
        "2",
        "59.00",
        "交易成功",
        "浙江省",
    ],
    [
        "1928374650001",
        "小明",
        "2024-03-08 21:15:00",
        "MUG-02",
        "景德镇陶瓷马克杯",
        "1",
        "39.90",
        "交易成功",
        "浙江省",
    ],
    [
        "1928374650002",
        "张伟",
        "2024-03-09 08:01:30",
        "TS-001",
        "纯棉短袖T恤 男款（白色）",
        "1",
        "59.00",
        "交易关闭",
        "广东省",
    ],
]
TAOBAO_MAPPING = """
source: taobao
channel: tmall
status_map: {交易成功: paid, 交易关闭: cancelled}
columns:
  order_id: 订单编号
  customer_id: 买家会员名
  ordered_at: 下单时间
  sku: 商家编码
  name: 宝贝标题
  quantity: 购买数量
  unit_price: 单价
  status: 订单状态
  region: 收货地址省份
"""


def _taobao_csv(path: Path, encoding: str, rows: list[list[str]] = TAOBAO_ROWS) -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        for row in [TAOBAO_HEADER, *rows]:
            fh.write(",".join(row) + "\r\n")
    return path


@pytest.mark.parametrize("encoding", ["auto", "gb18030", "gbk"])
def test_gbk_export_imports_with_correct_chinese(importer: Importer, tmp_path: Path, encoding: str) -> None:
    path = _taobao_csv(tmp_path / "ExportOrderList.csv", "gbk")
    with pytest.raises(UnicodeDecodeError):
        path.read_text(encoding="utf-8")  # really not UTF-8
    summary = importer.run([path], "generic", mapping=TAOBAO_MAPPING, encoding=encoding)
    assert (summary.rows_loaded, summary.rows_rejected) == (3, 0)
    assert summary.files[0].encoding == "gb18030"
    assert importer.query("SELECT name FROM order_items ORDER BY name") == [
        ("景德镇陶瓷马克杯",),
        ("纯棉短袖T恤 男款（白色）",),
        ("纯棉短袖T恤 男款（白色）",),
    ]
    assert importer.query(
        "SELECT external_id, customer_id, status, region, channel, currency, total FROM orders "
        "ORDER BY order_id"
    ) == [
        ("1928374650001", "小明", "paid", "浙江省", "tmall", "CNY", Decimal("157.9000")),
        ("1928374650002", "张伟", "cancelled", "广东省", "tmall", "CNY", Decimal("59.0000")),
    ]
    # Naive times are the tenant's zone (Asia/Shanghai, UTC+8).
    assert str(importer.one("SELECT min(ordered_at) FROM orders")) == "2024-03-08 13:15:00+00:00"


def test_utf8_with_bom_gzipped(importer: Importer, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv.gz"
    text = "\r\n".join(",".join(r) for r in [TAOBAO_HEADER, *TAOBAO_ROWS]) + "\r\n"
    path.write_bytes(gzip.compress(b"\xef\xbb\xbf" + text.encode("utf-8")))
    summary = importer.run([path], "generic", mapping=TAOBAO_MAPPING)
    assert summary.files[0].encoding == "utf-8"
    assert summary.rows_loaded == 3
    assert importer.one("SELECT count(*) FROM order_items WHERE name = '景德镇陶瓷马克杯'") == 1


def test_gbk_bytes_after_the_sampled_start_are_reread_as_gb18030(importer: Importer, tmp_path: Path) -> None:
    """The first MiB is plain ASCII (valid UTF-8); the Chinese rows come later."""
    filler = [
        [
            f"9{i:012d}",
            "buyer",
            "2024-03-01 10:00:00",
            "SKU",
            "plain ascii name",
            "1",
            "1.00",
            "交易成功",
            "x",
        ]
        for i in range(20_000)
    ]
    for row in filler:
        row[7] = "paid"
    path = _taobao_csv(tmp_path / "late.csv", "gbk", [*filler, *TAOBAO_ROWS])
    assert path.stat().st_size > 1 << 20
    summary = importer.run([path], "generic", mapping=TAOBAO_MAPPING)
    assert summary.files[0].encoding == "gb18030"
    assert summary.rows_loaded == 20_003
    assert importer.one("SELECT region FROM orders WHERE external_id = '1928374650002'") == "广东省"


def test_forcing_utf8_on_a_gbk_file_is_a_clear_error(importer: Importer, tmp_path: Path) -> None:
    path = _taobao_csv(tmp_path / "gbk.csv", "gbk")
    with pytest.raises(ValidationFailed, match=r"gbk\.csv: not valid utf-8 text"):
        importer.run([path], "generic", mapping=TAOBAO_MAPPING, encoding="utf-8")
    assert importer.one("SELECT count(*) FROM orders") == 0
