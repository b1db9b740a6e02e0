"""Two linked pseudo-terminals, what ``socat pty,raw,echo=0 pty,raw,echo=0`` makes.

Bytes written to one end's path come out of the other's, like the two sides of an
RS-485 link. A relay thread copies between the two masters until `close`.
"""

from __future__ import annotations

import os
import select
import threading
import tty


class PtyPair:
    def __init__(self) -> None:
        self._m1, self._s1 = os.openpty()
        self._m2, self._s2 = os.openpty()
        for fd in (self._s1, self._s2):
            tty.setraw(fd)  # no echo, no line editing: a serial line carries bytes
        # the slave ends stay open here, so a side that closes and reopens finds its pty
        self.a = os.ttyname(self._s1)
        self.b = os.ttyname(self._s2)
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._relay, name="pty-relay", daemon=True)
        self._thread.start()

    def _relay(self) -> None:
        peer = {self._m1: self._m2, self._m2: self._m1}
        while True:
            ready, _, _ = select.select([self._m1, self._m2, self._wake_r], [], [], 5.0)
            if self._wake_r in ready:
                return
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    continue
                if data:
                    os.write(peer[fd], data)

    def close(self) -> None:
        os.write(self._wake_w, b"x")
        self._thread.join(5.0)
        for fd in (self._m1, self._m2, self._s1, self._s2, self._wake_r, self._wake_w):
            os.close(fd)

    def __enter__(self) -> PtyPair:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
