# functools.singledispatch over classes of the page, registered by their
# type annotations.
import math
from dataclasses import dataclass
from functools import singledispatch


@dataclass
class Circle:
    r: float


@dataclass
class Rect:
    w: float
    h: float


@singledispatch
def area(shape):
    raise TypeError('unknown shape: %r' % (shape,))


@area.register
def _(shape: Circle):
    return math.pi * shape.r ** 2


@area.register
def _(shape: Rect):
    return shape.w * shape.h


for shape in (Circle(1), Rect(2, 3)):
    print(f'{shape}: {area(shape):.3f}')
try:
    area('square')
except TypeError as exc:
    print(exc)
