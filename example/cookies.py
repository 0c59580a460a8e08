# A visit counter kept in the browser, in a cookie.
from httpout import request, response

previous = request.cookies.get('visits', ['0'])[0]  # name -> list of values
visits = int(previous) + 1 if previous.isdigit() else 1

# Headers and cookies must be set before the first output is sent.
response.set_cookie('visits', str(visits), expires=3600, httponly=True,
                    samesite='Lax')

print('<!DOCTYPE html><title>Cookies</title>')
print('<link rel="stylesheet" href="/static/style.css">')
print('<h1>Cookies</h1>')
print(f'<p>You have seen this page {visits} time{"s" if visits > 1 else ""}. '
      '<a href="cookies.py">Reload</a></p>')
print('<p>The cookie expires an hour after your last visit.</p>')
