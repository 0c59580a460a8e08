# Members only: a visitor who has not logged in is sent to login.py. A note
# form shows the CSRF token at work: a post without this session's token is
# refused, so another site cannot make the browser post here.
from html import escape

from httpout import request, response, session, wait

user = session.get('user')

if user is None:
    response.set_status(303)
    response.set_header('Location', 'login.py')
    exit()

message = ''

if request.method == b'POST':
    form = wait(request.form())

    if session.check_csrf(form.get('csrf', [''])[0]):
        session['notes'] = session.get('notes', []) + [form.get('note', [''])[0][:200]]
    else:
        response.set_status(403)
        message = 'Refused: the form did not carry this session\'s token.'

token = session.csrf_token()

print('<!DOCTYPE html><title>Members</title>')
print('<link rel="stylesheet" href="/static/style.css">')
print(f'<h1>Welcome, {escape(user)}</h1>')

if message:
    print(f'<p><b>{escape(message)}</b></p>')

print('<p>Your notes, kept in your session:</p><ul>')

for note in session.get('notes', []):
    print(f'<li>{escape(note)}</li>')

print(f'''</ul>
<form method="post" action="members.py">
  <input type="hidden" name="csrf" value="{escape(token)}">
  <p><label>Note <input name="note" required></label> <button>Add</button></p>
</form>
<form method="post" action="logout.py">
  <input type="hidden" name="csrf" value="{escape(token)}">
  <p><button>Log out</button></p>
</form>''')
