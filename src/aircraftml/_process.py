"""Child processes that die with their parent, even when the parent is killed with SIGKILL.

A ``kill -9`` of ``aircraftml serve`` runs none of its clean-up: its worker processes used
to live on as orphans, and a restarted ``serve`` then ran twice as many. A worker calls
``die_with_parent`` first thing:

- on Linux, ``prctl(PR_SET_PDEATHSIG)`` has the kernel send it SIGTERM the moment its parent
  dies (the worker's SIGTERM handler finishes the request in hand, then exits);
- everywhere, a thread checks once a second that the parent is still the one it had, and
  sets the worker's stop event when it is not (the parent died before ``prctl``, or this is
  not Linux).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import sys
import threading

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
PARENT_CHECK_S = 1.0


def die_with_parent(
    parent_pid: int, stop: threading.Event, *, check_s: float = PARENT_CHECK_S
) -> None:
    """Set ``stop`` (and, on Linux, get SIGTERM) when the process ``parent_pid`` goes away."""
    _ask_kernel_for_sigterm_on_parent_death()
    if os.getppid() != parent_pid:  # it died before we asked
        logger.warning("parent process %d is gone: stopping", parent_pid)
        stop.set()
        return
    watcher = threading.Thread(
        target=_watch_parent, args=(parent_pid, stop, check_s), name="parent-watch", daemon=True
    )
    watcher.start()


def _watch_parent(parent_pid: int, stop: threading.Event, check_s: float) -> None:
    while not stop.wait(check_s):
        if os.getppid() != parent_pid:
            logger.warning("parent process %d is gone: stopping", parent_pid)
            stop.set()
            return


def _ask_kernel_for_sigterm_on_parent_death() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        ok = bool(libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) == 0)
    except (OSError, AttributeError):
        ok = False
    if not ok:
        logger.info("prctl(PR_SET_PDEATHSIG) unavailable: watching the parent pid only")
    return ok
