# A guestbook in SQLite: POST adds an entry and redirects (303) back to the
# list, so that reloading the page does not post twice.
import html
import sqlite3
from contextlib import closing

from httpout import __globals__, request, response, wait

db = sqlite3.connect(__globals__.GUESTBOOK_DB)
with closing(db):
    with db:
        db.execute('CREATE TABLE IF NOT EXISTS entries '
                   '(id INTEGER PRIMARY KEY, name TEXT, message TEXT)')

    if request.method == b'POST':
        form = wait(request.form())
        name = form.get('name', [''])[0].strip() or 'anonymous'
        message = form.get('message', [''])[0].strip()
        if message:
            with db:
                db.execute('INSERT INTO entries (name, message) VALUES (?, ?)',
                           (name, message))
        response.set_status(303)
        response.set_header('Location', 'guestbook.py')
        exit()

    rows = db.execute('SELECT name, message FROM entries ORDER BY id').fetchall()

print('<h1>Guestbook</h1>')
for name, message in rows:
    print('<p><b>%s</b>: %s</p>' % (html.escape(name), html.escape(message)))
print('<p>%d entries</p>' % len(rows))
