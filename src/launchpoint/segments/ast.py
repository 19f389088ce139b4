"""The rule language's syntax tree: small frozen nodes that remember where they came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Pos:
    """Where a node is: line and column for error messages (an operator's own position), and
    the character span of the whole construct in the rule text, for explanations."""

    line: int
    column: int
    start: int = 0
    end: int = 0


@dataclass(frozen=True)
class Literal:
    value: Any
    pos: Pos


@dataclass(frozen=True)
class Duration:
    seconds: float
    text: str
    pos: Pos


@dataclass(frozen=True)
class Field:
    path: tuple[str, ...]
    pos: Pos

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]
    pos: Pos


@dataclass(frozen=True)
class Arith:
    op: str  # "+" or "-"
    left: Node
    right: Node
    pos: Pos


@dataclass(frozen=True)
class Compare:
    op: str
    left: Node
    right: Node
    pos: Pos


@dataclass(frozen=True)
class In:
    left: Node
    options: tuple[Node, ...]
    negated: bool
    pos: Pos


@dataclass(frozen=True)
class Between:
    value: Node
    low: Node
    high: Node
    pos: Pos


@dataclass(frozen=True)
class IsNull:
    value: Node
    negated: bool
    pos: Pos


@dataclass(frozen=True)
class Contains:
    container: Node
    member: Node
    pos: Pos


@dataclass(frozen=True)
class And:
    parts: tuple[Node, ...]
    pos: Pos


@dataclass(frozen=True)
class Or:
    parts: tuple[Node, ...]
    pos: Pos


@dataclass(frozen=True)
class Not:
    value: Node
    pos: Pos


Node = (
    Literal
    | Duration
    | Field
    | Call
    | Arith
    | Compare
    | In
    | Between
    | IsNull
    | Contains
    | And
    | Or
    | Not
)


def walk(node: Node) -> list[Node]:
    """Every node of the tree, parents before children."""
    out: list[Node] = [node]
    children: tuple[Node, ...]
    match node:
        case Call(args=args):
            children = args
        case Compare(left=a, right=b) | Contains(container=a, member=b) | Arith(left=a, right=b):
            children = (a, b)
        case In(left=a, options=opts):
            children = (a, *opts)
        case Between(value=a, low=b, high=c):
            children = (a, b, c)
        case IsNull(value=a) | Not(value=a):
            children = (a,)
        case And(parts=parts) | Or(parts=parts):
            children = parts
        case _:
            children = ()
    for child in children:
        out.extend(walk(child))
    return out
