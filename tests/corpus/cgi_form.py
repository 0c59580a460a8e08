# The classic CGI form handler: the POST body is on standard input,
# CONTENT_LENGTH says how long it is.
import html
import sys
from urllib.parse import parse_qs

from httpout import __server__

if __server__['REQUEST_METHOD'] == 'POST':
    length = int(__server__.get('CONTENT_LENGTH') or 0)
    form = parse_qs(sys.stdin.read(length))
    name = form.get('name', [''])[0]
    topics = form.get('topic', [])
    print('<p>Thanks, %s.</p>' % html.escape(name))
    print('<p>You like: %s</p>' % html.escape(', '.join(topics) or 'nothing'))
else:
    print('<form method="post">')
    print('<input name="name"> <input type="checkbox" name="topic" value="python">')
    print('<button>Send</button></form>')
