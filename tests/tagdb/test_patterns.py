"""Glob semantics checked against a segment-by-segment reference on generated paths."""

from __future__ import annotations

import fnmatch

from hypothesis import given, settings
from hypothesis import strategies as st

from tagdb.patterns import compile_pattern

SEGMENT = st.text(alphabet="ab-", min_size=1, max_size=3)
PATH = st.lists(SEGMENT, min_size=1, max_size=4).map("/".join)
PATTERN_SEGMENT = st.one_of(SEGMENT, st.sampled_from(["*", "?", "a*", "*b", "?-", "**"]))
PATTERN = st.lists(PATTERN_SEGMENT, min_size=1, max_size=4).map("/".join)


def reference(pattern: str, path: str) -> bool:
    """Segment-wise matching: '**' eats any number of whole segments, others match one.

    A trailing '**' needs at least one: ``a/**`` is what is below ``a``, not ``a``.
    """
    def match(ps: list[str], xs: list[str]) -> bool:
        if not ps:
            return not xs
        if ps[0] == "**":
            least = 1 if len(ps) == 1 else 0
            return any(match(ps[1:], xs[k:]) for k in range(least, len(xs) + 1))
        return bool(xs) and fnmatch.fnmatchcase(xs[0], ps[0]) and match(ps[1:], xs[1:])
    return match(pattern.split("/"), path.split("/"))


@settings(max_examples=400, deadline=None)
@given(PATTERN, PATH)
def test_glob_matches_the_reference(pattern, path):
    assert compile_pattern(pattern)(path) == reference(pattern, path)


@settings(max_examples=200, deadline=None)
@given(PATH, PATH)
def test_prefix_is_everything_below(prefix, path):
    assert compile_pattern(prefix + "/")(path) == path.startswith(prefix + "/")
