"""Link returns exported as separate documents (cancellation invoices) to the sales they undo.

Why: a platform that writes a return as its own document (Online Retail's ``C…`` invoices) gives the
return no order; stored as it is, no refund reaches the order, its customer or its country, and an
order cancelled in full minutes later still looks paid. The rule (docs/imports.md, "Cancellations"):
each cancellation line takes back units from the same customer's sales lines of the same product
placed no later than the cancellation, most recent first, never more units from a line than it sold
minus what earlier cancellations already took back. What no sale covers stays a refund of its own.

The allocation is sequential (each cancellation consumes what the earlier ones left), so it runs in
Python over the few rows involved (the sales lines of customer × product pairs that have a
cancellation), not as SQL over every line.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa


@dataclass(frozen=True)
class Piece:
    """Part of a cancellation line: ``quantity`` units taken back from sale ``sale`` (None: unmatched)."""

    cancel: int
    piece: int
    sale: int | None
    quantity: int


def allocate(cancels: pa.Table, sales: pa.Table) -> list[Piece]:
    """Split cancellation lines over earlier sales lines.

    ``cancels``: ``cid`` (row key), ``customer_id``, ``product``, ``ts``, ``seq`` (file order),
    ``quantity`` (> 0, units returned). ``sales``: ``sid``, ``customer_id``, ``product``, ``ts``, ``seq``,
    ``quantity`` (> 0, units sold). Cancellations without a customer never match (a guest's return cannot
    be told apart from another guest's). Every cancellation yields pieces whose quantities add up to
    its own; matched pieces come first, numbered from 1 in the order they were taken.
    """
    # (ts, seq, sid, quantity) of each customer × product pair's sales, oldest first.
    by_key: dict[tuple[str, str], list[tuple[datetime, int, int, int]]] = defaultdict(list)
    s = sales.to_pydict()
    for customer, product, ts, seq, sid, quantity in zip(
        s["customer_id"], s["product"], s["ts"], s["seq"], s["sid"], s["quantity"], strict=True
    ):
        by_key[(customer, product)].append((ts, seq, sid, quantity))
    for lines in by_key.values():
        lines.sort()
    left = {sid: quantity for sid, quantity in zip(s["sid"], s["quantity"], strict=True)}
    c = cancels.to_pydict()
    order = sorted(range(cancels.num_rows), key=lambda i: (c["ts"][i], c["seq"][i]))
    pieces: list[Piece] = []
    for i in order:
        cid, wanted, number = c["cid"][i], c["quantity"][i], 0
        if c["customer_id"][i] is not None:
            for ts, _, sid, _ in reversed(by_key.get((c["customer_id"][i], c["product"][i]), [])):
                if wanted == 0:
                    break
                if ts > c["ts"][i] or left[sid] == 0:
                    continue
                taken = min(wanted, left[sid])
                left[sid] -= taken
                wanted -= taken
                number += 1
                pieces.append(Piece(cid, number, sid, taken))
        if wanted:
            pieces.append(Piece(cid, number + 1, None, wanted))
    return pieces


def pieces_table(pieces: list[Piece]) -> pa.Table:
    return pa.table(
        {
            "cid": pa.array([p.cancel for p in pieces], pa.int64()),
            "piece": pa.array([p.piece for p in pieces], pa.int32()),
            "sid": pa.array([p.sale for p in pieces], pa.int64()),
            "quantity": pa.array([p.quantity for p in pieces], pa.int32()),
        }
    )
