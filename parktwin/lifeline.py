"""Child processes that die with their parent, whatever kills the parent.

`exit_with_parent` runs first thing in a child (a process pool's ``initializer``, a
subprocess's ``preexec_fn``). On Linux it asks the kernel to SIGKILL the child when its
parent dies (``prctl(PR_SET_PDEATHSIG)``: works for SIGKILL of the parent too, where no
handler of the parent could run); elsewhere a daemon thread polls the parent's pid.

This module imports nothing heavy on purpose: a spawned worker unpickles its initializer
before anything else, so the window in which a dying parent is not yet watched is the
interpreter's start-up, not the import of the task's packages.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _arm_pdeathsig() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def exit_with_parent(parent_pid: int, ignore_sigint: bool = True) -> None:
    """Die when `parent_pid` (the process that started this one) dies.

    `ignore_sigint`: leave Ctrl-C (sent to the whole terminal's process group) to the
    parent, which stops its children in order.
    """
    if ignore_sigint:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    armed = _arm_pdeathsig()
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)
    if not armed:

        def watch() -> None:
            while os.getppid() == parent_pid:
                time.sleep(1.0)
            os._exit(1)

        threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()
