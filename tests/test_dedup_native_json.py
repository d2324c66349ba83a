"""The C core's JSON writer (`_cdedup.json_text`, used through bot.dedup.jsontext for the
placement scripts' arguments and the stored profiles) writes the very text of
`json.JSONEncoder(ensure_ascii=False).encode`: every script, escapes, floats' reprs, nesting,
empty containers; it declines what only the Python path writes, which then runs."""

from __future__ import annotations

import json
import math
from enum import IntEnum

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.dedup import jsontext
from bot.store import json_text as python_json_text

pytestmark = pytest.mark.skipif(jsontext._c_json is None,
                                reason="bot.dedup._cdedup is not built (no C compiler)")

_TEXT = st.one_of(st.text(), st.sampled_from(
    ["", '"', "\\", "\t", "\n", "\r", "\b", "\f", "\x00", "\x1f", "\x7f", "a\tb", "中国\n",
     "\ud800", "😀", "é", "\u2028", '\\"', "b3:12ab", "bench:x:seen:url:abc"]))
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-2**70, 2**70),
                     st.floats(allow_nan=False, allow_infinity=False),
                     st.sampled_from([0.0, -0.0, 1e-300, 5e-324, 1e300, 1748908800.123456,
                                      0.1, 1e16, 1e22, 123456789.0]), _TEXT)
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=6), st.lists(inner, max_size=6).map(tuple),
    st.dictionaries(_TEXT, inner, max_size=6)), max_leaves=40)


def _native(value: object) -> str | None:
    assert jsontext._c_json is not None
    return jsontext._c_json(value)


@settings(max_examples=800, deadline=None)
@given(_VALUES)
def test_json_text_is_the_json_text(value: object) -> None:
    assert _native(value) == python_json_text(value)
    assert jsontext.json_text(value) == python_json_text(value)


def test_json_text_of_placement_arguments() -> None:
    """A write argument as `_plan` builds it (a fingerprint record with tabs, keys, terms in
    three scripts, floats of times) and a read argument."""
    entry = {"lang": "zh", "floor": 0.24, "cross": 0.15, "v": 0, "id": "20250603-0123456789ab",
             "t": 1748908800.123456, "seq": 12, "score": 1748908800.123456, "aid": "ab" * 12,
             "sig": "20250603-0123456789ab\t新华网\tAAEC/+==", "bands": ["b0:1f", "b15:0"],
             "salient": ("@dprk", "#1500", "~10-21", "召见", "summon"), "posted": (),
             "terms": ["titanfal_review", "默茨"], "copy": [], "keys": {"story": "p:story:x"},
             "known": repr(1748908800.5), "chain": True}
    assert _native(entry) == python_json_text(entry)
    read = {"copy": ["k"], "lsh": ("a", "b"), "tmin": None, "tmax": None, "bands": [],
            "salient": ()}
    assert _native(read) == python_json_text(read)
    assert _native([[("d1", "d2"), ["t"]], [(), []]]) == python_json_text(
        [[("d1", "d2"), ["t"]], [(), []]])


def test_json_text_leaves_odd_values_to_python() -> None:
    class Level(IntEnum):
        HIGH = 3

    deep: list[object] = []
    for _ in range(40):
        deep = [deep]
    for odd in (math.nan, math.inf, -math.inf, [1.0, math.nan], {1: "a"}, {None: 1},
                {"a": {2.5: 1}}, Level.HIGH, {"x"}, b"bytes", object(), deep):
        assert _native(odd) is None, odd
    assert jsontext.json_text([math.nan, Level.HIGH, {1: 2}]) == '[NaN, 3, {"1": 2}]'
    assert jsontext.json_text(deep) == json.dumps(deep)
    shallow: list[object] = []
    for _ in range(31):
        shallow = [shallow]
    assert _native(shallow) == json.dumps(shallow)
