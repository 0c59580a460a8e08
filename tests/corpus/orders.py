# Postponed annotations (PEP 563): dataclasses and get_type_hints() resolve
# the annotation strings in the page's own module.
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field


@dataclass
class Line:
    product: str
    qty: int = 1


@dataclass
class Order:
    number: int
    lines: list[Line] = field(default_factory=list)
    note: typing.Optional[str] = None

    def total_qty(self) -> int:
        return sum(line.qty for line in self.lines)


order = Order(7, [Line('tea', 2), Line('cake')])
hints = typing.get_type_hints(Order)

print(order)
print('quantity:', order.total_qty())
print('fields:', [f.name for f in dataclasses.fields(Order)])
print('hints:', {name: repr(hint) for name, hint in hints.items()})
print('returns:', typing.get_type_hints(Order.total_qty))
