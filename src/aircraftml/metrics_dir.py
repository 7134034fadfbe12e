"""Where the processes of one ``aircraftml serve`` keep their metrics, for ``/metrics``.

prometheus_client's multiprocess mode: every process (the webhook and each worker) writes
its counts to files in one folder, named by ``PROMETHEUS_MULTIPROC_DIR``, and the webhook
sums them when ``/metrics`` is scraped. The variable must be set before the first metric
exists in a process, so ``serve`` calls ``use_multiprocess_dir`` before it imports the
bot's modules; worker processes inherit it. This module imports no prometheus_client.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def use_multiprocess_dir(path: Path) -> Path:
    """Count metrics in files under ``path`` (or the folder the operator already named in
    PROMETHEUS_MULTIPROC_DIR), emptied first: counts start at zero with each ``serve``."""
    chosen = Path(os.environ.get(MULTIPROC_ENV) or path)
    chosen.mkdir(parents=True, exist_ok=True)
    for stale in chosen.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(chosen)
    if "prometheus_client.values" in sys.modules:
        logger.warning(
            "metrics were created before %s was set: /metrics shows this process only",
            MULTIPROC_ENV,
        )
    return chosen
