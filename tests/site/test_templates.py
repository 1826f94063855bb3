"""``{param}`` substitution rules of equipment templates."""

from __future__ import annotations

import pytest

from tagdb.site.templates import SubstitutionError, placeholders, substitute, substitute_str


def test_lone_placeholder_keeps_the_type():
    assert substitute_str("{unit}", {"unit": 7}) == 7
    assert substitute_str("{flag}", {"flag": False}) is False
    assert substitute_str("u{unit}", {"unit": 7}) == "u7"


def test_format_specs_and_escaped_braces():
    assert substitute_str("meter-{n:03d}", {"n": 7}) == "meter-007"
    assert substitute_str("{n:03d}", {"n": 7}) == "007"          # a format makes it a string
    assert substitute_str("{{literal}} {x}", {"x": 1}) == "{literal} 1"
    assert placeholders("{{a}} {b} {c:02d}") == ["b", "c"]


def test_unknown_parameter_and_bad_format():
    with pytest.raises(SubstitutionError, match=r"unknown parameter \{nope\}"):
        substitute_str("hr:{nope}", {})
    with pytest.raises(SubstitutionError, match="cannot format"):
        substitute_str("{name:05d}", {"name": "pump"})


def test_nested_values():
    out = substitute({"a": ["{x}", {"b": "{x}-{y}"}], "n": 3}, {"x": 1, "y": "z"})
    assert out == {"a": [1, {"b": "1-z"}], "n": 3}
