"""docs/imports.md's Online Retail II rules for non-product lines and cancellations, written again with
pandas for the reference computations of the import and metric tests (not the preset's code)."""

from __future__ import annotations

import pandas as pd

#: The preset's documented line classes (docs/imports.md), written out again for the reference.
CLASSES = {
    "POST": "shipping",
    "DOT": "shipping",
    "C2": "shipping",
    "D": "discount",
    "AMAZONFEE": "fee",
    "BANK CHARGES": "fee",
    "CRUK": "fee",
    "M": "adjustment",
    "MANUAL": "adjustment",
    "ADJUST": "adjustment",
    "ADJUST2": "adjustment",
    "B": "adjustment",
    "S": "sample",
}


def link_cancellations(df: pd.DataFrame, sale: pd.Series, refund: pd.Series) -> pd.DataFrame:
    """The documented rule, computed row by row: each cancellation line (in time, then file order) takes
    units from its customer's sales lines of the same StockCode dated no later, newest first, up to what
    each line has left. One row per piece: the cancellation's row, the order it went to (None) and units."""
    sales = df[sale & (df["Customer ID"] != "")].reset_index()
    left = sales["qty"].to_dict()
    by_pair: dict[tuple[str, str], list[int]] = {}
    for i, row in sales.sort_values(["InvoiceDate", "index"]).iterrows():
        by_pair.setdefault((row["Customer ID"], row["StockCode"]), []).append(i)
    pieces = []
    cancels = df[refund].reset_index().sort_values(["InvoiceDate", "index"])
    for _, c in cancels.iterrows():
        wanted = -c["qty"]
        if c["Customer ID"] != "":
            for i in reversed(by_pair.get((c["Customer ID"], c["StockCode"]), [])):
                if wanted == 0:
                    break
                if sales.at[i, "InvoiceDate"] > c["InvoiceDate"] or left[i] == 0:
                    continue
                taken = min(wanted, left[i])
                left[i] -= taken
                wanted -= taken
                pieces.append((c["index"], sales.at[i, "Invoice"], taken))
        if wanted:
            pieces.append((c["index"], None, wanted))
    return pd.DataFrame(pieces, columns=["row", "order", "units"])
