"""The small adapter between our register images and pymodbus' server (pinned 3.16).

pymodbus 3.16 serves `SimDevice`s (its old datastore classes are deprecated). Each of our
devices becomes one `SimDevice` whose defined registers mirror our `RegisterMap`s (gaps
stay INVALID, so pymodbus itself answers ILLEGAL DATA ADDRESS there) and whose `action`
hook hands every request to our `RegisterImage`: reads copy the live image into the
response, writes are checked by the image and refused with the exception code it names.
Everything else (framing, malformed frames, transactions) is pymodbus'.

The server runs its asyncio loop in its own thread; the plant (simpy, blocking) runs in
another and writes into the images under their locks.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping
from typing import Protocol

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from hil.registers import GATEWAY_NO_RESPONSE, ILLEGAL_FUNCTION, RegisterError, RegisterImage
from parktwin.errors import ProtocolError

_READS = {3, 4}
_WRITES = {6, 16, 22, 23}


class Served(Protocol):
    """What the adapter needs of a device: its images and its link state."""

    images: list[RegisterImage]
    link_up: bool  # False: answer GATEWAY TARGET FAILED TO RESPOND (comm-loss fault)
    response_delay_s: float  # added latency (noise/delay fault)


def _image_for(dev: Served, address: int, count: int) -> RegisterImage | None:
    for img in dev.images:
        if img.map.start <= address and address + count <= img.map.stop:
            return img
    return None


def _simdevice(unit_id: int, dev: Served) -> SimDevice:
    blocks: list[SimData] = []
    for img in dev.images:
        for first, count in img.map.blocks():
            blocks.append(SimData(address=first, values=[0] * count, datatype=DataType.REGISTERS))

    async def action(fc, start, address, count, registers, set_values):
        if dev.response_delay_s > 0:
            await asyncio.sleep(dev.response_delay_s)
        if not dev.link_up:
            return ExcCodes(GATEWAY_NO_RESPONSE)
        if fc not in _READS and fc not in _WRITES:
            return ExcCodes(ILLEGAL_FUNCTION)
        try:
            if set_values is not None and fc in _WRITES:
                img = _image_for(dev, address, len(set_values))
                if img is None:
                    return ExcCodes.ILLEGAL_ADDRESS
                img.write(address, list(set_values))
                return None
            img = _image_for(dev, address, count)
            if img is None:
                return ExcCodes.ILLEGAL_ADDRESS
            registers[address - start : address - start + count] = img.read(address, count)
        except RegisterError as exc:
            return ExcCodes(exc.code)
        return None

    return SimDevice(id=unit_id, simdata=blocks, action=action)


class ModbusEndpoint:
    """A Modbus TCP server for some devices (by unit id), in its own thread.

    ``port=0`` binds a free port; `start` returns the bound one. Binding anywhere but
    loopback must be asked for with ``allow_remote=True`` (a bench must not appear on a
    plant network by accident).
    """

    def __init__(
        self,
        devices: Mapping[int, Served],
        host: str = "127.0.0.1",
        port: int = 0,
        allow_remote: bool = False,
    ) -> None:
        if host not in ("127.0.0.1", "localhost", "::1") and not allow_remote:
            raise ProtocolError(f"refusing to bind {host}: pass allow_remote to serve off loopback")
        if not devices:
            raise ProtocolError("no devices to serve")
        self.devices = dict(devices)
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: ModbusTcpServer | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

    def start(self) -> int:
        """Start serving; returns the bound TCP port."""
        self._thread = threading.Thread(target=self._run, name=f"modbus-{self.port}", daemon=True)
        self._thread.start()
        self._ready.wait(10.0)
        if self._error is not None:
            raise ProtocolError(f"cannot serve on {self.host}:{self.port}: {self._error}") from (
                self._error
            )
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
        sims = [_simdevice(uid, dev) for uid, dev in sorted(self.devices.items())]
        self._server = ModbusTcpServer(sims, address=(self.host, self.port))
        await self._server.serve_forever(background=True)
        if not self._server.transport:
            raise OSError("listen failed")
        self.port = self._server.transport.sockets[0].getsockname()[1]
        self._ready.set()
        await self._server.serving

    def stop(self) -> None:
        """Stop serving and join the thread."""
        if self._loop is not None and self._server is not None and not self._loop.is_closed():
            fut = asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop)
            try:
                fut.result(5.0)
            except Exception:
                pass
        if self._thread is not None:
            self._thread.join(5.0)

    def __enter__(self) -> ModbusEndpoint:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
