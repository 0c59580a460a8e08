# typing at run time: NamedTuple, TypedDict, a runtime-checkable Protocol
# and get_type_hints() of the page's own definitions.
from typing import (
    NamedTuple,
    Optional,
    Protocol,
    TypedDict,
    get_type_hints,
    runtime_checkable,
)


class Point(NamedTuple):
    x: int
    y: int = 0


class Movie(TypedDict, total=False):
    title: str
    year: int


@runtime_checkable
class Named(Protocol):
    name: str


class Dog:
    name = 'Rex'


def describe(point: Point, label: Optional[str] = None) -> str:
    return f'{label or "point"} at {point.x},{point.y}'


print(describe(Point(3)), Point._fields)
print(get_type_hints(describe))
print(get_type_hints(Movie), Movie.__total__)
print(isinstance(Dog(), Named), isinstance(Point(1), Named))
