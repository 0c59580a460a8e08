# A listing page of the kind a site is made of (about 30 KB of HTML): the
# compression case measures it with and without --compress.
from html import escape

print('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">')
print('<title>Orders</title><link rel="stylesheet" href="/static/style.css">')
print('</head><body><h1>Orders</h1><table class="orders">')
print('<tr><th>#</th><th>Customer</th><th>Item</th><th>Quantity</th><th>Total</th></tr>')

for n in range(300):
    customer = escape('Customer %d <c%d@example.org>' % (n % 37, n % 37))
    item = ('Widget', 'Gadget', 'Sprocket', 'Gizmo')[n % 4]
    print(f'<tr><td>{n}</td><td>{customer}</td><td>{item} model {n % 11}</td>'
          f'<td>{n % 9 + 1}</td><td>{(n % 9 + 1) * 4.25:.2f}</td></tr>')

print('</table></body></html>')
