# Log in: a form protected by the session's CSRF token, passwords checked
# against salted scrypt hashes (_lib/users.py), and a new session id on
# success, so that an id planted before the login is worth nothing.
from html import escape

from httpout import request, response, session, wait

from _lib.users import check_password

error = ''

if request.method == b'POST':
    form = wait(request.form())
    name = form.get('name', [''])[0]

    if not session.check_csrf(form.get('csrf', [''])[0]):
        response.set_status(403)
        error = 'The form has expired: please try again.'
    elif check_password(name, form.get('password', [''])[0]):
        session.regenerate()  # before anything else: defeats session fixation
        session['user'] = name
        response.set_status(303)
        response.set_header('Location', 'members.py')
        exit()
    else:
        response.set_status(401)
        error = 'Wrong name or password.'

token = session.csrf_token()  # before the first print: it may set the cookie

print('<!DOCTYPE html><title>Log in</title>')
print('<link rel="stylesheet" href="/static/style.css">')
print('<h1>Log in</h1>')

if error:
    print(f'<p><b>{escape(error)}</b></p>')

print(f'''<form method="post" action="login.py">
  <input type="hidden" name="csrf" value="{escape(token)}">
  <p><label>Name <input name="name" autocomplete="username" required></label></p>
  <p><label>Password <input name="password" type="password"
     autocomplete="current-password" required></label></p>
  <p><button>Log in</button> (try ann / demo)</p>
</form>''')
