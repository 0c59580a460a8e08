# __server__: the request as a dict, in the style of PHP's $_SERVER.
# Try /info.py/any/path?q=1 to see PATH_INFO and QUERY_STRING.
from html import escape

from httpout import __server__

print('<!DOCTYPE html><title>__server__</title>')
print('<link rel="stylesheet" href="/static/style.css">')
print('<h1><code>__server__</code></h1>')
print('<table>')

for key, value in sorted(__server__.items()):
    print(f'<tr><th>{escape(key)}</th><td>{escape(value)}</td></tr>')

print('</table>')
