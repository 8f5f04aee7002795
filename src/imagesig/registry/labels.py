"""Kubernetes label selectors (``a=b,c!=d,e in (x,y),!f``), parsed strictly."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

Requirement = Callable[[Mapping[str, str]], bool]

_SET = re.compile(r"^\s*(!?)\s*([^\s!=(),]+)\s+(in|notin)\s*\(([^)]*)\)\s*$")
_CMP = re.compile(r"^\s*([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)\s*$")
_EXISTS = re.compile(r"^\s*(!?)\s*([^\s!=(),]+)\s*$")


class SelectorError(ValueError):
    pass


def _split(selector: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts, depth, current = [], 0, ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


def _requirement(term: str) -> Requirement:
    if m := _SET.match(term):
        if m.group(1):
            raise SelectorError(f"unable to parse requirement: {term.strip()!r}")
        key, op = m.group(2), m.group(3)
        values = {v.strip() for v in m.group(4).split(",")} - {""}
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if m := _CMP.match(term):
        key, op, value = m.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if m := _EXISTS.match(term):
        negate, key = m.group(1) == "!", m.group(2)
        return lambda labels: (key in labels) != negate
    raise SelectorError(f"unable to parse requirement: {term.strip()!r}")


def parse_selector(selector: str) -> Requirement:
    """A predicate over a label map; the empty selector matches everything."""
    if not selector.strip():
        return lambda labels: True
    requirements = [_requirement(term) for term in _split(selector)]
    return lambda labels: all(req(labels) for req in requirements)
