"""Copy-paste code for sending events to this server with a source's write key.

Built from the host the browser used to reach the console (``request.base_url``), so the snippet works
as pasted. The key is a placeholder until a source is created: the create form then swaps the real
key (shown once) into every snippet in the browser; the server never stores or re-renders it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from ecomops.platform.console.i18n import N_

EXAMPLE_EVENT = {
    "event": "Order Completed",
    "userId": "c-1001",
    "properties": {
        "order_id": "A100",
        "total": "299.00",
        "currency": "CNY",
        "products": [{"product_id": "p1", "price": "149.50", "quantity": 2}],
    },
}


@dataclass(frozen=True)
class Snippet:
    key: str
    label: str
    code: str


def snippets(host: str, write_key: str) -> list[Snippet]:
    event_json = json.dumps({**EXAMPLE_EVENT, "messageId": "A100-completed"}, ensure_ascii=False, indent=2)
    parts = urlsplit(host)
    api_host = f"{parts.netloc}/v1"
    http = (
        f'curl -u "{write_key}:" {host}/v1/track \\\n'
        "  -H 'content-type: application/json' \\\n"
        f"  -d '{event_json}'"
    )
    body = json.dumps(EXAMPLE_EVENT, ensure_ascii=False, indent=2)
    javascript = (
        "// analytics.js (Segment snippet): send to this server instead of Segment\n"
        f'analytics.load("{write_key}", {{\n'
        f'  integrations: {{ "Segment.io": {{ apiHost: "{api_host}", protocol: "{parts.scheme}" }} }}\n'
        "});\n"
        'analytics.track("Order Completed", { order_id: "A100", total: "299.00", currency: "CNY" });\n\n'
        "// or plain fetch (server-side JavaScript, or same-origin pages)\n"
        f"const event = {body};\n"
        "event.messageId = crypto.randomUUID();  // the server drops repeats of a messageId\n"
        f'await fetch("{host}/v1/track", {{\n'
        '  method: "POST",\n'
        "  headers: {\n"
        '    "Content-Type": "application/json",\n'
        f'    Authorization: "Basic " + btoa("{write_key}:"),\n'
        "  },\n"
        "  body: JSON.stringify(event),\n"
        "});"
    )
    python = (
        "import uuid\n\nimport httpx  # or: import requests as httpx\n\n"
        f"event = {json.dumps(EXAMPLE_EVENT, ensure_ascii=False, indent=4)}\n"
        'event["messageId"] = str(uuid.uuid4())\n'
        f'response = httpx.post("{host}/v1/track", auth=("{write_key}", ""), json=event, timeout=10)\n'
        "response.raise_for_status()\n"
        "print(response.json())  # {'success': True, 'accepted': 1, ...}"
    )
    return [
        Snippet("http", N_("HTTP (curl)"), http),
        Snippet("js", N_("JavaScript"), javascript),
        Snippet("python", N_("Python"), python),
    ]
