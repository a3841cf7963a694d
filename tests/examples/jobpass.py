"""One pass of a module's job, run by the platform's scheduler in this process, printed as JSON.

``python -m tests.examples.jobpass JOB`` (no server may run: the pass writes the warehouses). The
server starts the same ``Scheduler.run_pass`` on its schedule or when a test ``tick()``s it; there is
no HTTP hook to start one, and a test process cannot load a module a subprocess has installed, so the
end-to-end tests of an installed module run its job here.
"""

from __future__ import annotations

import dataclasses
import json
import sys

from ecomops.platform.commandline import local_state
from ecomops.platform.jobs import Scheduler


def main(name: str) -> None:
    with local_state(writable=True) as state:
        scheduler = Scheduler(state)
        results = scheduler.run_pass(name)
        stats = dataclasses.asdict(scheduler.stats[name])
    sys.stdout.write(json.dumps({"results": results, "stats": stats}, default=str) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
