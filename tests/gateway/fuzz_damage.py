"""Damaged uploads for the fuzzer: intact drawings, truncated, bit-flipped, overwritten or
replaced by noise, and a record of which bytes were damaged.

The schema can only say that `sketch` is a binary PNG or JPEG part, so a damaged drawing is
schema-valid; the gateway may still decode it (a flipped bit in JPEG pixel data is a valid
picture) or must refuse it cleanly (413/415/422), never crash. `was_damaged(data)` tells
the fuzzer's check which of the two promises applies to a request.
"""

from __future__ import annotations

import hashlib

from hypothesis import strategies as st

DAMAGES = ("truncate", "flip", "overwrite", "noise")
#: One upload in DAMAGE_ONE_IN is damaged.
DAMAGE_ONE_IN = 4
_damaged: set[str] = set()


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def was_damaged(data: bytes) -> bool:
    return _digest(data) in _damaged


@st.composite
def damaged(draw, intact: bytes) -> bytes:
    how = draw(st.sampled_from(DAMAGES))
    last = len(intact) - 1
    if how == "truncate":
        data = intact[:draw(st.integers(0, last))]
    elif how == "flip":
        flipped = bytearray(intact)
        for position, mask in draw(st.lists(st.tuples(st.integers(0, last), st.integers(1, 255)),
                                            min_size=1, max_size=8)):
            flipped[position] ^= mask
        data = bytes(flipped)
    elif how == "overwrite":
        start = draw(st.integers(0, last))
        chunk = draw(st.binary(min_size=1, max_size=64))
        data = intact[:start] + chunk + intact[start + len(chunk):]
    else:
        data = draw(st.binary(max_size=2048))
    if data != intact:
        _damaged.add(_digest(data))
    return data


def sometimes_damaged(intact: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """Uploads from `intact`, one in DAMAGE_ONE_IN of them damaged."""

    @st.composite
    def upload(draw) -> bytes:
        data = draw(intact)
        return draw(damaged(data)) if draw(st.integers(1, DAMAGE_ONE_IN)) == DAMAGE_ONE_IN else data

    return upload()
