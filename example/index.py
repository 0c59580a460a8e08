# The home page of the demo: one link per feature.
from html import escape

DEMOS = [
    ('hello.py', 'Streaming: print() output arrives line by line'),
    ('async.py', 'run() and wait(): async and blocking code together'),
    ('form.py', 'A form posted back to itself'),
    ('upload.py', 'File upload: name, size and SHA-256 of each file'),
    ('cookies.py', 'A visit counter kept in a cookie'),
    ('api.py/items/2', 'JSON, status codes and PATH_INFO'),
    ('greet.py?name=World', 'Importing a local package (_lib/)'),
    ('counter.py', '__globals__.py: per-worker state and a middleware'),
    ('login.py', 'Sessions: log in (ann / demo), a members page, CSRF, log out'),
    ('ws.html', 'WebSocket echo (echo.py)'),
    ('info.py/some/path?q=1', '__server__, the request environment'),
    ('error.py', 'An error before any output: the 500 page'),
    ('error.py?after=1', 'An error after output has started'),
    ('folder/', 'A folder URL served by its index.py'),
    ('cgi.py', 'CGI style: the form on sys.stdin, the page on sys.stdout'),
]

print('<!DOCTYPE html><title>httpout demo</title>')
print('<link rel="stylesheet" href="/static/style.css">')
print('<h1><img src="/static/logo.png" alt="" width="32" height="32"> httpout demo</h1>')
print('<p>Each page below is a plain <code>.py</code> file in this folder.</p>')
print('<ul>')

for url, text in DEMOS:
    print(f'<li><a href="{escape(url)}">{escape(url)}</a>: {escape(text)}</li>')

print('</ul>')
