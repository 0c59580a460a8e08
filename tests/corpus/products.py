# A page rendered with Jinja2; the templates are in _templates/, which is
# private (never served) but readable by the page.
import os

from jinja2 import Environment, FileSystemLoader, select_autoescape

from httpout import request

HERE = os.path.dirname(__file__)
env = Environment(loader=FileSystemLoader(os.path.join(HERE, '_templates')),
                  autoescape=select_autoescape(['html']))

PRODUCTS = [
    {'name': 'Tea <green>', 'price': 4.5},
    {'name': 'Coffee & beans', 'price': 7.25},
]

query = request.query.get('q', [''])[0]
template = env.get_template('products.html')
print(template.render(query=query, products=PRODUCTS), end='')
