"""Sessions presets: UCI Online Shoppers rows become page/track events; conversion equals pandas."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.imports.conftest import FIXTURES, Importer, read_rejects

SAMPLE = FIXTURES / "online_shoppers" / "online_shoppers_sample.csv"
REFERENCE = "2017-12-31"


def test_uci_sample_loads_every_row(importer: Importer) -> None:
    summary = importer.run([SAMPLE], "uci-online-shoppers", reference_date=REFERENCE)
    frame = pd.read_csv(SAMPLE)
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (len(frame), len(frame), 0)
    pages = int((frame.Administrative + frame.Informational + frame.ProductRelated).sum())
    counts = dict(importer.query("SELECT coalesce(event, type), count(*) FROM events GROUP BY ALL"))
    assert counts == {
        "Session Started": len(frame),
        "page": pages,
        "Session Converted": int(frame.Revenue.sum()),
    }
    assert summary.inserted["events"] == len(frame) + pages + int(frame.Revenue.sum())
