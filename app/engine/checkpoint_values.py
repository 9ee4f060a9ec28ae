"""A strategy's declared state as plain data: the attributes a checkpoint keeps between bars,
checked for their types and size, written as a flat table of nodes and rebuilt exactly.

The contract (docs/engine.md, "Checkpoints"): a strategy lists the attributes it changes
after `initialize()` in a class attribute, `state = ("counter", "last_signal")`. Their values
may be None, bool, int, float (NaN and infinities too), str (printable, at most
MAX_STATE_TEXT_CHARS characters), and lists, tuples and dicts of those (dict keys: None,
bool, int, float, str or tuples of them), and the order tickets `buy`/`sell` return, at most
MAX_STATE_NODES values in all. Anything
else (a numpy number, a set, an object) is refused when a checkpoint is taken, with the
attribute's name and the value's type.

The encoding is a table of nodes, each `[tag, payload]`, a container's payload listing the
indices of its items. Items come before their container (post-order), so the table is never
deeper than three levels whatever the value's nesting, it cannot describe a container that
holds itself (refused when the checkpoint is taken), and one list held by two attributes is
rebuilt as one list (appending through one name shows through the other, as before).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from app.engine.errors import CheckpointError
from app.engine.orders import OrderTicket
from app.engine.plain_records import from_plain, to_plain

STATE_ATTRIBUTE: Final = "state"
MAX_STATE_ATTRIBUTES: Final = 200
MAX_STATE_NODES: Final = 100_000
MAX_STATE_TEXT_CHARS: Final = 10_000
MAX_STATE_CHARS: Final = 4_000_000
"""Characters of text a strategy's state may hold in all."""
MAX_INT_DIGITS: Final = 100
MAX_STATE_DEPTH: Final = 50
ENGINE_ATTRIBUTES: Final = frozenset({"_context", "params"})
"""Instance attributes the engine sets on every strategy (never part of its state)."""
_NON_FINITE: Final = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_KEY_TYPES: Final = (type(None), bool, int, float, str)

Node = list[Any]


def declared_state(strategy_class: type) -> tuple[str, ...]:
    """The attribute names `strategy_class` declares in `state` (its own or a base class's,
    the most derived one wins); () when it declares none. StrategyDefinitionError-like
    CheckpointError when the declaration is not a tuple or list of attribute names."""
    for cls in strategy_class.__mro__:
        if STATE_ATTRIBUTE in cls.__dict__:
            return _checked_names(cls.__dict__[STATE_ATTRIBUTE])
    return ()


def _checked_names(declared: object) -> tuple[str, ...]:
    example = 'for example state = ("counter", "last_signal")'
    if not isinstance(declared, tuple | list):
        raise CheckpointError(
            f"`state` must be a tuple of attribute names, not {type(declared).__name__}; {example}"
        )
    if len(declared) > MAX_STATE_ATTRIBUTES:
        raise CheckpointError(f"`state` may name at most {MAX_STATE_ATTRIBUTES} attributes")
    names: list[str] = []
    for name in declared:
        if type(name) is not str or not name.isidentifier() or name.startswith("__"):
            raise CheckpointError(
                f"`state` lists {name!r}, which is not an attribute name; {example}"
            )
        if name in ENGINE_ATTRIBUTES:
            raise CheckpointError(
                f"`state` lists {name!r}, which the engine sets itself; list only your own "
                "attributes"
            )
        if name not in names:
            names.append(name)
    return tuple(names)


class _Encoder:
    """Walks the values of one strategy's state into one node table (shared by attributes,
    so a value two attributes hold is encoded once)."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self._seen: dict[int, int] = {}  # id of a container -> its node
        self._open: set[int] = set()  # containers being encoded (a cycle passes one again)
        self._chars = 0
        self._keep_alive: list[object] = []  # ids stay unique while the walk lasts

    def encode(self, value: object, where: str, depth: int = 0) -> int:
        """The index of `value`'s node (its items' nodes are written before it)."""
        kind = type(value)
        if kind in (list, tuple, dict):
            if id(value) in self._open:
                raise CheckpointError(f"{where} holds itself; a checkpoint keeps no cycles")
            known = self._seen.get(id(value))
            if known is not None:
                return known
            if depth >= MAX_STATE_DEPTH:
                raise CheckpointError(
                    f"{where} nests containers deeper than {MAX_STATE_DEPTH} levels"
                )
        node = self._node(value, kind, where, depth)
        if len(self.nodes) >= MAX_STATE_NODES:
            raise CheckpointError(
                f"{where}: the state holds more than {MAX_STATE_NODES:,} values; keep a "
                "bounded window (the last N values) instead"
            )
        self.nodes.append(node)
        index = len(self.nodes) - 1
        if kind in (list, tuple, dict):
            self._seen[id(value)] = index
            self._keep_alive.append(value)  # its id stays unique while the walk lasts
        return index

    def _node(self, value: Any, kind: type, where: str, depth: int) -> Node:
        if value is None:
            return ["none"]
        if kind is bool:
            return ["bool", value]
        if kind is int:
            if abs(value) >= 10**MAX_INT_DIGITS:
                raise CheckpointError(f"{where} is an int of more than {MAX_INT_DIGITS} digits")
            return ["int", value]
        if kind is float:
            return ["float", value if math.isfinite(value) else repr(value)]
        if kind is str:
            return ["str", self._text(value, where)]
        if kind in (list, tuple, dict):
            return self._container(value, kind, where, depth)
        if kind is OrderTicket:  # what buy/sell returned, kept to cancel it later
            return ["ticket", to_plain(value)]
        raise CheckpointError(
            f"{where} is a {_type_name(value)}; a checkpoint keeps None, bool, int, float, "
            f"str and lists, tuples and dicts of them{_hint(value)}"
        )

    def _container(self, value: Any, kind: type, where: str, depth: int) -> Node:
        self._open.add(id(value))
        try:
            if kind is dict:
                items: list[int] = []
                for key, item in value.items():
                    self._check_key(key, where)
                    items.append(self.encode(key, f"{where} key {key!r}", depth + 1))
                    items.append(self.encode(item, f"{where}[{key!r}]", depth + 1))
                return ["dict", items]
            children = [
                self.encode(item, f"{where}[{n}]", depth + 1) for n, item in enumerate(value)
            ]
            return ["list" if kind is list else "tuple", children]
        finally:
            self._open.discard(id(value))

    def _check_key(self, key: object, where: str) -> None:
        if type(key) in _KEY_TYPES:
            return
        if type(key) is tuple and all(type(part) in _KEY_TYPES for part in key):
            return
        raise CheckpointError(
            f"{where} has a key of type {_type_name(key)}; keys may be None, bool, int, float, "
            "str or tuples of them"
        )

    def _text(self, text: str, where: str) -> str:
        if len(text) > MAX_STATE_TEXT_CHARS:
            raise CheckpointError(
                f"{where} is text of {len(text):,} characters; a checkpoint keeps at most "
                f"{MAX_STATE_TEXT_CHARS:,} per string"
            )
        if not text.isprintable():
            raise CheckpointError(
                f"{where} is text with a control or unprintable character; a checkpoint keeps "
                "printable text (no newline, tab or escape)"
            )
        self._chars += len(text)
        if self._chars > MAX_STATE_CHARS:
            raise CheckpointError(
                f"{where}: the state holds more than {MAX_STATE_CHARS:,} characters of text"
            )
        return text


def _type_name(value: object) -> str:
    kind = type(value)
    module = getattr(kind, "__module__", "builtins")
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


def _hint(value: object) -> str:
    if isinstance(value, bool | int | float | str):  # a subclass, numpy's float64 say
        plain = next(k for k in (bool, int, float, str) if isinstance(value, k))
        return f" (convert it with {plain.__name__}(...))"
    if isinstance(value, set | frozenset):
        return " (a sorted list keeps the same values)"
    return ""


def encode_state(values: Mapping[str, object]) -> dict[str, Any]:
    """The declared attributes' values (name -> value, only those set) as plain data:
    `{"nodes": [...], "roots": {name: node index}}`. CheckpointError naming the attribute and
    the offending value's type for anything outside the contract."""
    encoder = _Encoder()
    roots = {
        name: encoder.encode(value, f"state attribute `{name}`") for name, value in values.items()
    }
    return {"nodes": encoder.nodes, "roots": roots}


def decode_state(document: object) -> dict[str, object]:
    """The attribute values `encode_state` described, rebuilt (shared containers shared).
    CheckpointError for any document it could not have written: the parent reads what a
    worker sent, and a checkpoint file, with this."""
    if not isinstance(document, dict) or set(document) != {"nodes", "roots"}:
        raise CheckpointError("the strategy state is not a node table")
    nodes, roots = document["nodes"], document["roots"]
    if not isinstance(nodes, list) or not isinstance(roots, dict):
        raise CheckpointError("the strategy state is not a node table")
    if len(nodes) > MAX_STATE_NODES or len(roots) > MAX_STATE_ATTRIBUTES:
        raise CheckpointError("the strategy state holds more values than a checkpoint keeps")
    values: list[object] = [None] * len(nodes)
    chars = 0
    for index in range(len(nodes)):  # items first: they come before their containers
        value, text_chars = _decoded(nodes[index], index, values)
        values[index] = value
        chars += text_chars
    if chars > MAX_STATE_CHARS:
        raise CheckpointError("the strategy state holds more text than a checkpoint keeps")
    decoded: dict[str, object] = {}
    for name, root in roots.items():
        if type(name) is not str or not name.isidentifier() or name in ENGINE_ATTRIBUTES:
            raise CheckpointError("the strategy state names an attribute it may not")
        if type(root) is not int or not 0 <= root < len(nodes):
            raise CheckpointError(f"state attribute `{name}` points outside the node table")
        decoded[name] = values[root]
    return decoded


def _decoded(node: object, index: int, values: list[object]) -> tuple[object, int]:
    """One node's value (its items already rebuilt) and the characters of text it holds."""
    if not isinstance(node, list) or not node or type(node[0]) is not str:
        raise CheckpointError(f"state node {index} is malformed")
    tag, payload = node[0], node[1:]
    if tag == "none" and not payload:
        return None, 0
    if len(payload) != 1:
        raise CheckpointError(f"state node {index} is malformed")
    item = payload[0]
    if tag in _CONTAINERS:
        return _container(tag, item, index, values), 0
    reader = _SCALARS.get(tag)
    if reader is None:
        raise CheckpointError(f"state node {index} has an unknown tag")
    value = reader(item)
    if value is _INVALID:
        raise CheckpointError(f"state node {index} is not a valid {tag}")
    return value, len(value) if type(value) is str else 0


_INVALID: Final = object()


def _bool(item: object) -> object:
    return item if type(item) is bool else _INVALID


def _int(item: object) -> object:
    return item if type(item) is int and abs(item) < 10**MAX_INT_DIGITS else _INVALID


def _float(item: object) -> object:
    if type(item) is float and math.isfinite(item):
        return item
    if type(item) is int:  # JSON may write 2.0 as 2
        return float(item)
    if type(item) is str and item in _NON_FINITE:
        return _NON_FINITE[item]
    return _INVALID


def _str(item: object) -> object:
    is_text = type(item) is str and len(item) <= MAX_STATE_TEXT_CHARS and item.isprintable()
    return item if is_text else _INVALID


def _ticket(item: object) -> object:
    return from_plain(OrderTicket, item)


_SCALARS: Final = {"bool": _bool, "int": _int, "float": _float, "str": _str, "ticket": _ticket}
_CONTAINERS: Final = frozenset({"list", "tuple", "dict"})


def _container(tag: str, item: object, index: int, values: list[object]) -> object:
    if not isinstance(item, list) or not all(
        type(child) is int and 0 <= child < index for child in item
    ):
        raise CheckpointError(f"state node {index} lists items that are not before it")
    items = [values[child] for child in item]
    if tag == "list":
        return items
    if tag == "tuple":
        return tuple(items)
    return _dict(items, index)


def _dict(items: list[object], index: int) -> dict[object, object]:
    if len(items) % 2:
        raise CheckpointError(f"state node {index} is a dict with a key and no value")
    result: dict[object, object] = {}
    for key, value in zip(items[::2], items[1::2], strict=True):
        is_key = type(key) in _KEY_TYPES or (
            type(key) is tuple and all(type(part) in _KEY_TYPES for part in key)
        )
        if not is_key:
            raise CheckpointError(f"state node {index} is a dict with a key of the wrong type")
        result[key] = value
    return result
