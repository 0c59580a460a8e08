# Imports from the private package _lib/ in this folder. The folder can be
# imported but never browsed (names starting with "_" are not routed).
from html import escape

from _lib import greeting
from httpout import request

name = request.query.get('name', ['stranger'])[0]  # ?name=...

print('<!DOCTYPE html><title>Local imports</title>')
print('<link rel="stylesheet" href="/static/style.css">')
print('<h1>Local imports</h1>')
print(f'<p>{escape(greeting.greet(name))}</p>')
print(f'<p>Seen from <code>_lib/greeting.py</code>, <code>__main__</code> is '
      f'<code>{greeting.main_page()}</code>.</p>')
