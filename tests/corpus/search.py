# A search page that echoes the query, escaped.
from html import escape

from httpout import request

q = request.query.get('q', [''])[0]
print('<form><input name="q" value="%s"></form>' % escape(q, quote=True))
print('<p>No results for <b>%s</b>.</p>' % escape(q))
