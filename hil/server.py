"""The bench's Modbus servers: our register images over Modbus TCP and Modbus RTU.

One asyncio loop in its own thread serves every device (by unit id) on a TCP port and,
if asked, on a serial port as RTU; the plant (simpy, blocking) runs in another thread
and writes into the images under their locks.

The protocol is ours, small and by the spec: `hil.framing` splits the byte streams
into frames, `hil.pdu` answers each request. pymodbus 3.16's server answers bad
quantities and unknown function codes with the wrong exception, makes up data for
function 0x18, answers one request of several in a TCP segment, goes deaf after a bad
header and answers an absent unit with 0x04 (see docs/bench-modbus.md); its request
path also costs more than the whole of ours. pymodbus stays where it is right: the
serial transport (pyserial under asyncio) and the RTU CRC, and every client.

Unit ids. Over TCP the bench is a **gateway**: one IP address with many devices behind
it (units, meters, the site device), so a request to a unit id it does not serve, or
to a device whose link is down (the comm-loss fault), answers exception 0x0B GATEWAY
TARGET DEVICE FAILED TO RESPOND (Modbus/TCP implementation guide v1.0b, sec. 4.4.1.3).
Over RTU each device is a **device** on the bus: a frame for a unit id it does not
serve, or sent while its link is down, gets no answer (serial line v1.02, sec. 2.1);
a broadcast (unit id 0) write is acted on by every device and answered by none.

Order. Every request of a connection is answered in the order it came, one answer each,
however the requests were split into or joined in TCP segments; a device with a
response delay (the noise/delay fault) holds back the answers behind it on that
connection, as a real gateway would.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from pydantic import Field

from hil.framing import FramingError, MbapFramer, RtuFramer
from hil.pdu import WRITES, answer, exception
from hil.registers import GATEWAY_NO_RESPONSE, RegisterImage
from parktwin.config import Frozen
from parktwin.errors import ProtocolError

log = logging.getLogger(__name__)

#: the silence that ends an RTU frame of unknown length is at least this long [s]: the
#: 3.5 characters of the spec are 1.75 ms above 19200 Bd, shorter than the gaps that USB
#: adapters and OS scheduling put inside a frame (frames of known length never wait)
RTU_SILENCE_MIN_S = 0.010


class Served(Protocol):
    """What the server needs of a device: its images and its link state."""

    images: list[RegisterImage]
    link_up: bool  # False: the device does not answer (comm-loss fault)
    response_delay_s: float  # added latency (noise/delay fault)


class RtuConfig(Frozen):
    """A serial port to serve Modbus RTU on (a device such as /dev/ttyUSB0, or a pty).

    8 data bits; the serial line spec's default is even parity, many PCS ship with N.
    """

    port: str = Field(min_length=1, description="serial device path or pyserial URL")
    baudrate: int = Field(9600, gt=0)
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1

    @property
    def silence_s(self) -> float:
        """The inter-frame silence [s]: 3.5 characters of 11 bits, at least RTU_SILENCE_MIN_S."""
        t35 = 3.5 * 11 / self.baudrate if self.baudrate <= 19200 else 0.00175
        return max(t35, RTU_SILENCE_MIN_S)


@dataclass
class Activity:
    """Requests one device answered, by kind, and who wrote it last (the live page reads it)."""

    reads: int = 0
    writes: int = 0
    last_writer: str = ""  # "host:port" of a TCP client, "rtu" on the serial line


class _Link(asyncio.Protocol):
    """One client connection (TCP) or one serial line (RTU): frames in, answers out, in order."""

    gateway = True

    def __init__(self, endpoint: ModbusEndpoint) -> None:
        self.ep = endpoint
        self.transport: asyncio.Transport | None = None
        self._held: deque[tuple[int, int, bytes]] = deque()  # (tid, uid, pdu) behind a delay
        self._worker: asyncio.Task | None = None
        self._closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.ep._links.add(self)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "rtu"

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            log.info("%s: connection lost: %s", type(self).__name__, exc)
        if self._worker is not None:
            self._worker.cancel()
        self._held.clear()
        self.transport = None
        self.ep._links.discard(self)

    def pause_writing(self) -> None:  # a client that sends and never reads: stop reading it
        if self.transport is not None and hasattr(self.transport, "pause_reading"):
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and hasattr(self.transport, "resume_reading"):
            self.transport.resume_reading()

    def encode(self, tid: int, uid: int, pdu: bytes) -> bytes:
        raise NotImplementedError

    def _answer(self, uid: int, pdu: bytes) -> bytes | None:
        """The response PDU, or None for no answer."""
        dev = self.ep.devices.get(uid)
        if uid == 0 and not self.gateway:  # serial broadcast: writes act on all, none answers
            if pdu[0] in WRITES:
                for d in list(self.ep.devices.values()):
                    if d.link_up:
                        answer(d, pdu)
            return None
        if dev is None or not dev.link_up:
            return exception(pdu[0], GATEWAY_NO_RESPONSE) if self.gateway else None
        act = self.ep.activity[uid]
        if pdu[0] in WRITES:
            act.writes += 1
            act.last_writer = self.peer
        else:
            act.reads += 1
        return answer(dev, pdu)

    def _delay_of(self, uid: int) -> float:
        dev = self.ep.devices.get(uid)
        return dev.response_delay_s if dev is not None else 0.0

    def handle(self, frames: list[tuple[int, int, bytes]]) -> None:
        """Answer `frames` in order: at once, or behind the first one that waits."""
        out: list[bytes] = []
        for tid, uid, pdu in frames:
            if self._held or self._delay_of(uid) > 0:
                self._held.append((tid, uid, pdu))
                continue
            resp = self._answer(uid, pdu)
            if resp is not None:
                out.append(self.encode(tid, uid, resp))
        if out and self.transport is not None:
            self.transport.write(b"".join(out))
        if self._held and self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self._held:
                tid, uid, pdu = self._held[0]
                delay = self._delay_of(uid)
                if delay > 0:
                    await asyncio.sleep(delay)
                self._held.popleft()
                resp = self._answer(uid, pdu)
                if resp is not None and self.transport is not None:
                    self.transport.write(self.encode(tid, uid, resp))
        finally:
            self._worker = None
        if self._closing and self.transport is not None:
            self.transport.close()


class _TcpLink(_Link):
    gateway = True

    def __init__(self, endpoint: ModbusEndpoint) -> None:
        super().__init__(endpoint)
        self.framer = MbapFramer()

    def encode(self, tid: int, uid: int, pdu: bytes) -> bytes:
        return MbapFramer.encode(tid, uid, pdu)

    def data_received(self, data: bytes) -> None:
        try:
            frames = self.framer.feed(data)
        except FramingError as exc:
            # the frames before the bad header are answered, then the connection closes:
            # TCP has no marker to find the next frame by (see hil.framing)
            log.info("closing a Modbus TCP connection: %s", exc)
            self._closing = True
            self.handle(exc.frames)  # type: ignore[attr-defined]
            if self._worker is None and self.transport is not None:
                self.transport.close()
            return
        if self._closing:
            return
        self.handle(frames)


class _RtuLink(_Link):
    gateway = False

    def __init__(self, endpoint: ModbusEndpoint, silence_s: float) -> None:
        super().__init__(endpoint)
        self.framer = RtuFramer()
        self.silence_s = silence_s
        self._timer: asyncio.TimerHandle | None = None

    def encode(self, tid: int, uid: int, pdu: bytes) -> bytes:
        return RtuFramer.encode(uid, pdu)

    def data_received(self, data: bytes) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.handle([(0, uid, pdu) for uid, pdu in self.framer.feed(data)])
        if self.framer.pending:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.silence_s, self._silence)

    def _silence(self) -> None:
        self._timer = None
        self.handle([(0, uid, pdu) for uid, pdu in self.framer.silence()])

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if exc is not None:  # an adapter unplugged, the other end of a pty closed
            log.warning("Modbus RTU: serial port lost (%s); serving TCP only", exc)
        super().connection_lost(exc)


class ModbusEndpoint:
    """Modbus TCP (and optionally RTU) server for some devices (by unit id), in its own thread.

    ``port=0`` binds a free port; `start` returns the bound one. Binding anywhere but
    loopback must be asked for with ``allow_remote=True`` (a bench must not appear on a
    plant network by accident). ``rtu`` also serves the same devices on a serial port.
    """

    def __init__(
        self,
        devices: Mapping[int, Served],
        host: str = "127.0.0.1",
        port: int = 0,
        allow_remote: bool = False,
        rtu: RtuConfig | None = None,
    ) -> None:
        if host not in ("127.0.0.1", "localhost", "::1") and not allow_remote:
            raise ProtocolError(f"refusing to bind {host}: pass allow_remote to serve off loopback")
        if not devices:
            raise ProtocolError("no devices to serve")
        for uid in devices:
            if not 1 <= uid <= 247:
                raise ProtocolError(f"unit id {uid}: expected 1..247")
        self.devices: dict[int, Served] = dict(devices)
        self.host = host
        self.port = port
        self.rtu = rtu
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._links: set[_Link] = set()
        #: requests answered per unit id (counted in the loop's thread; read without a lock)
        self.activity: dict[int, Activity] = {uid: Activity() for uid in self.devices}

    def start(self) -> int:
        """Start serving; returns the bound TCP port."""
        self._thread = threading.Thread(target=self._run, name=f"modbus-{self.port}", daemon=True)
        self._thread.start()
        self._ready.wait(10.0)
        if self._error is not None:
            where = f"{self.host}:{self.port}" + (f" and {self.rtu.port}" if self.rtu else "")
            raise ProtocolError(f"cannot serve on {where}: {self._error}") from self._error
        if not self._ready.is_set():
            raise ProtocolError(f"server on {self.host}:{self.port} did not start")
        return self.port

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start(), the thread must not die silently
            self._error = exc
            self._ready.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await loop.create_server(lambda: _TcpLink(self), self.host, self.port)
        serial = None
        try:
            self.port = server.sockets[0].getsockname()[1]
            if self.rtu is not None:
                serial = await self._open_serial(self.rtu)
            self._ready.set()
            await self._stop.wait()
        finally:
            server.close()
            if serial is not None:
                serial.close()
            for link in list(self._links):  # open connections too (wait_closed waits for them)
                if link.transport is not None:
                    link.transport.close()
            await server.wait_closed()

    async def _open_serial(self, cfg: RtuConfig) -> asyncio.Transport:
        # pymodbus' asyncio transport over pyserial (reader callbacks, polling on Windows)
        from pymodbus.transport.serialtransport import create_serial_connection

        loop = asyncio.get_running_loop()
        transport, _ = await create_serial_connection(
            loop,
            lambda: _RtuLink(self, cfg.silence_s),
            cfg.port,
            baudrate=cfg.baudrate,
            bytesize=8,
            parity=cfg.parity,
            stopbits=cfg.stopbits,
        )
        return transport

    def stop(self) -> None:
        """Stop serving and join the thread."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:  # the loop closed in between
                pass
        if self._thread is not None:
            self._thread.join(5.0)

    def __enter__(self) -> ModbusEndpoint:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
