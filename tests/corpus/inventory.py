# Dataclasses: records with defaults, ordering, asdict() and replace().
import json
from dataclasses import asdict, dataclass, field, replace


@dataclass(order=True)
class Item:
    sku: str
    name: str = field(compare=False)
    stock: int = field(default=0, compare=False)
    tags: list = field(default_factory=list, compare=False)


items = sorted([
    Item('B-2', 'Bolt', 120, ['metal']),
    Item('A-1', 'Anchor'),
    Item('C-3', 'Clamp', 8),
])
restocked = replace(items[1], stock=0)

print('<pre>')
for item in items:
    print(item)
print(json.dumps([asdict(item) for item in items]))
print(restocked == items[1], restocked.stock)
print('</pre>')
