"""Modbus framing for the bench's servers: MBAP (TCP) and RTU (serial), bytes to frames.

Pure: the transports in `hil.server` feed received bytes in and get whole request
frames out, in order, however the bytes were split or joined on the way (one TCP
segment may hold several requests, or half of one).

MBAP (Modbus/TCP implementation guide v1.0b, sec. 3.1.3): transaction id, protocol id
(0), length (unit id + PDU: 2..254 bytes), unit id, PDU. A header that breaks these
rules means the stream has lost its frame boundaries; TCP gives no marker to find the
next frame by, so the framer reports a `FramingError` and the server closes that
connection (the client reconnects and starts clean).

RTU (Modbus over serial line v1.02, sec. 2.5.1): unit id, PDU, CRC-16 (low byte
first), frames separated by >= 3.5 character times of silence. A request of a known
function code has a length that its own bytes tell, so a frame is taken as soon as it
is complete and its CRC checks; bytes whose CRC does not check are dropped one at a
time until a frame checks again (resynchronisation after noise). A frame of an unknown
function code is taken at the silence after it, if its CRC checks; at the silence the
bytes left are searched for frames once more (noise may have announced a long frame).
"""

from __future__ import annotations

import struct

from pymodbus.framer.rtu import FramerRTU

from hil.pdu import (
    MASK_WRITE,
    READ_HOLDING,
    READ_INPUT,
    READ_WRITE_MULTIPLE,
    WRITE_MULTIPLE,
    WRITE_SINGLE,
)
from parktwin.errors import ProtocolError

_MBAP = struct.Struct(">HHHB")
MBAP_MAX_LENGTH = 254  # unit id + the longest PDU (253 bytes)
RTU_MAX_FRAME = 256  # unit id + 253-byte PDU + CRC (serial line v1.02 sec. 2.5.1)


class FramingError(ProtocolError):
    """The byte stream is not Modbus framing: the connection cannot be trusted further."""


class MbapFramer:
    """Splits a TCP byte stream into ``(transaction id, unit id, PDU)`` frames."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, int, bytes]]:
        """The whole frames completed by `data`, in order; raises FramingError on a bad
        header (the frames before it are in the exception's ``frames``)."""
        buf = self._buf
        buf += data
        frames: list[tuple[int, int, bytes]] = []
        off, n = 0, len(buf)
        while n - off >= 7:
            tid, pid, length, uid = _MBAP.unpack_from(buf, off)
            if pid != 0 or not 2 <= length <= MBAP_MAX_LENGTH:
                err = FramingError(
                    f"MBAP header {bytes(buf[off : off + 7]).hex(' ')}: "
                    + (f"protocol id {pid}, expected 0" if pid else f"length {length} not 2..254")
                )
                err.frames = frames  # type: ignore[attr-defined]
                buf.clear()
                raise err
            end = off + 6 + length
            if end > n:
                break
            frames.append((tid, uid, bytes(buf[off + 7 : end])))
            off = end
        del buf[:off]
        return frames

    @staticmethod
    def encode(tid: int, uid: int, pdu: bytes) -> bytes:
        """One response ADU."""
        return _MBAP.pack(tid, 0, len(pdu) + 1, uid) + pdu


def crc16(frame: bytes) -> bytes:
    """The RTU CRC of `frame` as sent on the wire (pymodbus' table-driven CRC-16/MODBUS)."""
    return FramerRTU.compute_CRC(frame).to_bytes(2, "big")


def _rtu_request_size(buf: bytearray, off: int) -> int | None:
    """Bytes of the request frame starting at `off` (with unit id and CRC), 0 if more
    bytes must arrive to tell, None if its function code has no known length."""
    avail = len(buf) - off
    fc = buf[off + 1]
    if fc in (READ_HOLDING, READ_INPUT, WRITE_SINGLE):
        return 8
    if fc == MASK_WRITE:
        return 10
    if fc == WRITE_MULTIPLE:
        return 9 + buf[off + 6] if avail > 6 else 0
    if fc == READ_WRITE_MULTIPLE:
        return 13 + buf[off + 10] if avail > 10 else 0
    return None


class RtuFramer:
    """Splits a serial byte stream into ``(unit id, PDU)`` frames (see the module doc)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.dropped = 0  # bytes discarded as noise

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """The frames that `data` completes (by length and CRC), in order."""
        buf = self._buf
        buf += data
        frames: list[tuple[int, bytes]] = []
        off = 0
        while len(buf) - off >= 4:
            size = _rtu_request_size(buf, off)
            if size is None:
                # an unknown function code: a frame of its own (taken at the silence), or
                # noise before a frame of a known one
                skip = next((k for k in range(off + 1, len(buf) - 3) if self._whole(buf, k)), 0)
                if not skip:
                    break
                self.dropped += skip - off
                off = skip
                continue
            if size == 0 or len(buf) - off < size:
                break  # incomplete: wait for more bytes or the silence
            if self._whole(buf, off):
                frames.append((buf[off], bytes(buf[off + 1 : off + size - 2])))
                off += size
            else:
                off += 1  # noise: hunt for the next frame one byte further
                self.dropped += 1
        del buf[:off]
        if len(buf) > RTU_MAX_FRAME:  # no frame is this long: keep the tail only
            self.dropped += len(buf) - RTU_MAX_FRAME
            del buf[: len(buf) - RTU_MAX_FRAME]
        return frames

    @staticmethod
    def _whole(buf: bytearray, off: int) -> bool:
        """A complete request of a known function code, CRC correct, starts at `off`."""
        size = _rtu_request_size(buf, off)
        if not size or len(buf) - off < size:
            return False
        return crc16(buf[off : off + size - 2]) == buf[off + size - 2 : off + size]

    def silence(self) -> list[tuple[int, bytes]]:
        """The line went quiet (>= 3.5 characters): what is left holds frames only if CRCs
        check: whole frames of known length anywhere in it (after noise, or after a noise
        byte that announced a long frame), else its tail from some byte on as one frame
        (an unknown function code, a truncated request). The rest is noise."""
        buf, self._buf = self._buf, bytearray()
        frames: list[tuple[int, bytes]] = []
        off = 0
        while len(buf) - off >= 4:
            if self._whole(buf, off):
                size = _rtu_request_size(buf, off) or 0
                frames.append((buf[off], bytes(buf[off + 1 : off + size - 2])))
                off += size
            elif crc16(buf[off:-2]) == buf[-2:]:
                frames.append((buf[off], bytes(buf[off + 1 : -2])))
                off = len(buf)
            else:
                off += 1
                self.dropped += 1
        self.dropped += len(buf) - off
        return frames

    @property
    def pending(self) -> int:
        """Bytes received that are not yet a frame."""
        return len(self._buf)

    @staticmethod
    def encode(uid: int, pdu: bytes) -> bytes:
        """One response frame."""
        frame = bytes((uid,)) + pdu
        return frame + crc16(frame)
