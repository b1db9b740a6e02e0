"""Modbus/TCP by the spec: raw frames over a real loopback socket (port 0).

Each case names the request PDU and the response PDU that the Modbus Application
Protocol v1.1b3 asks for; the bench is a gateway (an absent unit answers 0x0B).
"""

from __future__ import annotations

import socket
import struct
import time

import pytest

from hil.server import ModbusEndpoint
from tests.hil.modbus_device import Device

H = bytes.fromhex


@pytest.fixture
def served():
    dev, other = Device(), Device()
    with ModbusEndpoint({1: dev, 2: other}) as ep:
        yield ep.port, dev, other


def adu(tid: int, uid: int, pdu: bytes) -> bytes:
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, uid) + pdu


def recv_adu(s: socket.socket) -> tuple[int, int, bytes]:
    head = _recv_exact(s, 7)
    tid, pid, length, uid = struct.unpack(">HHHB", head)
    assert pid == 0
    return tid, uid, _recv_exact(s, length - 1)


def _recv_exact(s: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise ConnectionError(f"closed after {len(out)} of {n} bytes")
        out += chunk
    return out


def ask(port: int, pdu: bytes, uid: int = 1) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(adu(7, uid, pdu))
        tid, ruid, resp = recv_adu(s)
    assert (tid, ruid) == (7, uid)
    return resp


def _ro(first: int, n: int) -> bytes:
    return struct.pack(f">{n}H", *range(first, first + n))


CASES = [
    # reads: quantity 1..125 (sec. 6.3), checked before the address
    ("read 1", "03 0064 0001", "03 02 0064"),
    ("read 125", "03 0064 007D", "03 FA" + _ro(100, 125).hex()),
    ("read 0 registers", "03 0064 0000", "83 03"),
    ("read 126 registers", "03 0064 007E", "83 03"),
    ("read 0 at an undefined address", "03 1000 0000", "83 03"),
    ("read an undefined address", "03 1000 0001", "83 02"),
    ("read past the defined block", "03 00E0 0010", "83 02"),
    ("read input registers", "04 0065 0002", "04 04 0065 0066"),
    ("read input 126", "04 0065 007E", "84 03"),
    ("truncated read", "03 0064 00", "83 03"),
    ("read with a byte too many", "03 0064 0001 00", "83 03"),
    ("function code alone", "03", "83 03"),
    # functions the device does not implement: (fc | 0x80) 01, no made-up data
    ("read coils", "01 0000 0001", "81 01"),
    ("read discrete inputs", "02 0000 0001", "82 01"),
    ("write coil", "05 0000 FF00", "85 01"),
    ("diagnostics", "08 0000 1234", "88 01"),
    ("read FIFO queue", "18 0064", "98 01"),
    ("read device identification", "2B 0E 01 00", "AB 01"),
    ("unknown function 0x63", "63 0000 0001", "E3 01"),
    ("unknown function 0x41, empty", "41", "C1 01"),
    # writes
    ("write single", "06 012C 01F4", "06 012C 01F4"),
    ("write single out of range", "06 012C 07D0", "86 03"),
    ("write single to a read-only register", "06 0064 0001", "86 02"),
    ("write single to half a u32", "06 012D 0001", "86 02"),
    ("write single, enum not a symbol", "06 012F 0002", "86 03"),
    ("truncated write single", "06 012C 01", "86 03"),
    ("write multiple", "10 012D 0002 04 0001 0002", "10 012D 0002"),
    ("write multiple of 0", "10 012C 0000 00", "90 03"),
    ("write multiple of 123 to read-only", "10 0064 007B F6" + "00" * 246, "90 02"),
    (
        "write multiple of 124 (data cut: 253-byte PDU limit)",
        "10 012C 007C F8" + "00" * 240,
        "90 03",
    ),
    ("write multiple, byte count off", "10 012C 0001 04 0001 0002", "90 03"),
    ("write multiple, data short", "10 012C 0002 04 0001", "90 03"),
    ("truncated write multiple", "10 012C 00", "90 03"),
    ("mask write", "16 012C 00F0 0005", "16 012C 00F0 0005"),
    ("truncated mask write", "16 012C 00F0", "96 03"),
    ("read/write multiple", "17 0064 0002 012C 0001 02 0010", "17 04 0064 0065"),
    ("read/write reading 126", "17 0064 007E 012C 0001 02 0010", "97 03"),
    ("read/write writing 122 (data cut)", "17 0064 0001 012C 007A F4" + "00" * 236, "97 03"),
    ("read/write, write refused", "17 0064 0001 0064 0001 02 0010", "97 02"),
]


@pytest.mark.parametrize(
    ("request_hex", "expected_hex"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_request_gets_the_answer_of_the_spec(served, request_hex, expected_hex):
    port, *_ = served
    assert ask(port, H(request_hex)).hex(" ") == H(expected_hex).hex(" ")


def test_writes_act_and_refused_writes_change_nothing(served):
    port, dev, _ = served
    ask(port, H("06 012C 0064"))  # p_set = 100
    assert ask(port, H("16 012C 00F0 0005")) == H("16 012C 00F0 0005")
    # (100 AND 0x00F0) OR (0x0005 AND NOT 0x00F0) = 0x60 | 0x05
    assert dev.image.get_raw("p_set") == 0x65
    assert ask(port, H("10 012C 0004 08 0001 0002 0003 0004")) == H(
        "90 03"
    )  # p_set 1 ok, e_set, mode 4 no
    assert dev.image.get_raw("p_set") == 0x65  # all or nothing
    assert ask(port, H("17 012C 0001 012D 0002 04 0001 0002")) == H("17 02 0065")
    assert dev.image.get_raw("e_set") == 0x10002  # written before the read
    assert ask(port, H("17 0000 0001 012C 0001 02 0001")) == H("97 02")  # read range absent
    assert dev.image.get_raw("p_set") == 0x65  # so nothing was written
    assert dev.image.get_raw("mode") == 0


def test_an_absent_unit_answers_gateway_target_failed(served):
    port, *_ = served
    assert ask(port, H("03 0064 0001"), uid=9) == H("83 0B")
    assert ask(port, H("06 012C 0001"), uid=0) == H("86 0B")
    assert ask(port, H("03 0064 0001"), uid=255) == H("83 0B")


def test_a_unit_whose_link_is_down_answers_gateway_target_failed(served):
    port, dev, _ = served
    dev.link_up = False
    assert ask(port, H("03 0064 0001")) == H("83 0B")
    assert ask(port, H("03 0064 0001"), uid=2) == H("03 02 0064")


def test_every_request_of_one_segment_is_answered_in_order(served):
    port, *_ = served
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(
            adu(1, 1, H("03 0064 0001"))
            + adu(2, 2, H("03 0065 0001"))
            + adu(3, 1, H("63"))
            + adu(4, 9, H("03 0064 0001"))
        )
        got = [recv_adu(s) for _ in range(4)]
    assert got == [
        (1, 1, H("03 02 0064")),
        (2, 2, H("03 02 0065")),
        (3, 1, H("E3 01")),
        (4, 9, H("83 0B")),
    ]


def test_a_request_split_over_segments_is_answered_once(served):
    port, *_ = served
    frame = adu(5, 1, H("03 0064 0002"))
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for k in range(len(frame)):  # one byte per segment
            s.sendall(frame[k : k + 1])
            time.sleep(0.002)
        assert recv_adu(s) == (5, 1, H("03 04 0064 0065"))
        s.settimeout(0.3)
        with pytest.raises(TimeoutError):
            s.recv(1)  # and nothing else


def test_a_delayed_unit_holds_back_the_answers_behind_it_not_their_order(served):
    port, dev, _ = served
    dev.response_delay_s = 0.2
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        t0 = time.perf_counter()
        s.sendall(adu(1, 1, H("03 0064 0001")) + adu(2, 2, H("03 0065 0001")))
        assert recv_adu(s)[0] == 1
        assert recv_adu(s)[0] == 2
        assert time.perf_counter() - t0 >= 0.2


@pytest.mark.parametrize(
    "garbage",
    [
        H("DEADBEEF") * 4,  # protocol id 0xBEEF
        H("0001 0000 00FF 01 03"),  # length 255: longer than any ADU
        H("0001 0000 0001 01"),  # length 1: no function code
        H("0001 0000 0000 01 03 0064 0001"),  # length 0
    ],
    ids=["protocol id", "length 255", "length 1", "length 0"],
)
def test_a_framing_error_closes_the_connection_after_answering_what_came_before(served, garbage):
    port, *_ = served
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(adu(1, 1, H("03 0064 0001")) + garbage + adu(2, 1, H("03 0064 0001")))
        assert recv_adu(s) == (1, 1, H("03 02 0064"))
        assert s.recv(64) == b""  # closed: the frame boundaries are lost
    assert ask(port, H("03 0064 0001")) == H("03 02 0064")  # a new connection starts clean


def test_many_pipelined_requests_on_many_connections(served):
    port, *_ = served
    conns = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(8)]
    try:
        for c in conns:
            c.sendall(b"".join(adu(t, 1, H("03 0064 0003")) for t in range(200)))
        for c in conns:
            assert [recv_adu(c)[0] for _ in range(200)] == list(range(200))
    finally:
        for c in conns:
            c.close()
