"""Small pieces: pinned import ids, row numbering, header matching, keys, file names, progress."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ecomops.imports.api import safe_name
from ecomops.imports.options import ImportOptions
from ecomops.imports.reader import Column, FileKind, _row_numbers, match_header, normalize_header
from ecomops.imports.staging import Staging, stable_ids
from ecomops.platform.crypto.pseudonym import file_keys, pseudonymize_emails
from tests.imports.conftest import Importer


def test_sql_side_ids_are_pinned_and_equal_the_python_reference(tmp_path: Path) -> None:
    # Import ids must never change (re-imports and overlapping files rely on them), so the values
    # themselves are pinned: the first 96 bits of MD5 over the parts joined with \x1f, as hex.
    parts = {
        ("online-retail-ii", "489434", "85048", "1"): "3093b65204ae00cbac541e8c",
        ("olist", "525c4dbc", "2"): "bc40c7c18e48555bff157127",
        ("shopify", "#1001", "1"): "4aef9a532a7687fd4ae8b935",
        ("taobao", "订单", "纯棉短袖T恤", "3"): "d032af12d7b82ca546d8d074",
    }
    expected = list(parts.values())
    assert stable_ids(["\x1f".join(p) for p in parts]) == expected
    staging = Staging(tmp_path)
    try:
        got = [
            staging.scalar(
                "SELECT stable_id_of(concat_ws(chr(31), $a, $b, $c))",
                {"a": p[0], "b": p[1], "c": "\x1f".join(p[2:])},
            )
            for p in parts
        ]
    finally:
        staging.close()
    assert got == expected
    assert not (tmp_path / "staging").exists()


def test_row_numbers_step_over_skipped_rows() -> None:
    pending = [3, 5, 40]
    numbers, next_row = _row_numbers(1, 5, pending)
    assert numbers.to_pylist() == [1, 2, 4, 6, 7] and next_row == 8 and pending == [40]
    numbers, next_row = _row_numbers(8, 3, pending)
    assert numbers.to_pylist() == [8, 9, 10] and pending == [40]


def test_header_matching_ignores_case_spaces_and_underscores() -> None:
    assert normalize_header("\ufeffCustomer ID") == normalize_header("customer_id") == "customerid"
    kind = FileKind(
        "k",
        "k",
        (Column("customer_id", ("Customer ID", "CustomerID")), Column("n", ("数量",), match_name=False)),
    )
    match, missing = match_header(["CUSTOMERID", "n"], kind)
    assert match is None and missing == ["数量"]
    match, _ = match_header(["CUSTOMERID", " 数量 "], kind)
    assert match is not None and match.positions == {"customer_id": 0, "n": 1}
    assert match.headers == {"customer_id": "CUSTOMERID", "n": " 数量 "}


def test_pseudonym_key_is_per_tenant_private_and_stable(tmp_path: Path) -> None:
    keys = file_keys(tmp_path)
    first = keys.key_for("tn_a")
    assert keys.key_for("tn_a") == first and keys.key_for("tn_b") != first
    mode = (tmp_path / "keys" / "pseudonym" / "tn_a.key").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert pseudonymize_emails(first, ["A@x.io ", "a@x.io", "", None]) == [
        pseudonymize_emails(first, ["a@x.io"])[0]
    ] * 2 + [None, None]
    with pytest.raises(ValueError):
        keys.key_for("../escape")


def test_safe_upload_names() -> None:
    assert safe_name("../../etc/passwd", 0) == "passwd"
    assert safe_name("订单 导出.csv", 1) == "订单_导出.csv"
    assert safe_name("", 2) == "file3.csv"
    assert safe_name("..", 0) == "file1.csv"


def test_options_round_trip() -> None:
    options = ImportOptions("generic", "gbk", "Asia/Shanghai", "CNY", "columns: {}")
    assert ImportOptions.from_dict(options.to_dict()) == options


def test_progress_reports_phases_in_order(importer: Importer, tmp_path: Path) -> None:
    from ecomops.imports import jobs
    from ecomops.imports.execution import run_job
    from ecomops.imports.options import InputFile
    from tests.imports.conftest import FIXTURES

    path = FIXTURES / "shopify_orders_export.csv"
    seen: list[tuple[int, int, str]] = []
    job = jobs.create_job(importer.engine, importer.tenant.id, "shopify", [path.name], path.stat().st_size)
    run_job(
        settings=importer.settings,
        engine=importer.engine,
        warehouse=importer.warehouse,
        tenant=importer.tenant,
        job_id=job.id,
        files=[InputFile(path, path.name)],
        options=ImportOptions("shopify"),
        progress=lambda d, t, p: seen.append((d, t, p)),
    )
    phases = [p for _, _, p in seen]
    assert phases[0] == "reading" and phases[-1] == "done"
    assert phases.index("transforming") < phases.index("applying") < phases.index("done")
    assert seen[-1][0] == seen[-1][1] == path.stat().st_size
    stored = jobs.get_job(importer.engine, importer.tenant.id, job.id)
    assert (stored.status, stored.percent, stored.phase) == ("succeeded", 100.0, "succeeded")
