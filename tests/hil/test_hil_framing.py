"""The framers: frames come out whole and in order however the bytes are cut, noise is skipped."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hil.framing import FramingError, MbapFramer, RtuFramer
from tests.hil.strategies import cuts, mbap_frames, rtu_requests


@given(st.lists(mbap_frames, min_size=1, max_size=6), st.data())
def test_mbap_frames_survive_any_cutting(frames, data):
    stream = b"".join(MbapFramer.encode(tid, uid, pdu) for tid, uid, pdu in frames)
    framer = MbapFramer()
    got = [f for piece in data.draw(cuts(stream)) for f in framer.feed(piece)]
    assert got == frames


@given(st.lists(mbap_frames, max_size=3), st.integers(1, 0xFFFF))
def test_a_bad_protocol_id_is_a_framing_error_after_the_good_frames(frames, pid):
    stream = b"".join(MbapFramer.encode(tid, uid, pdu) for tid, uid, pdu in frames)
    with pytest.raises(FramingError) as err:
        MbapFramer().feed(stream + pid.to_bytes(2, "big").rjust(4, b"\0") + b"\x00\x06\x01\x03")
    assert err.value.frames == frames


@given(st.lists(rtu_requests(), min_size=1, max_size=5), st.data())
def test_rtu_frames_survive_any_cutting(frames, data):
    stream = b"".join(RtuFramer.encode(uid, pdu) for uid, pdu in frames)
    framer = RtuFramer()
    got = [f for piece in data.draw(cuts(stream)) for f in framer.feed(piece)]
    assert got + framer.silence() == frames
    assert framer.dropped == 0


@given(st.binary(min_size=1, max_size=40), rtu_requests())
def test_rtu_noise_before_a_frame_is_skipped_by_the_silence_at_the_latest(noise, frame):
    framer = RtuFramer()
    got = framer.feed(noise + RtuFramer.encode(*frame))
    got += framer.silence()
    assert got[-1] == frame  # noise may, rarely, hold a frame of its own with a valid CRC
