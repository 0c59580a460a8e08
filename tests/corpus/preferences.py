# Cookies the CGI way: parse HTTP_COOKIE with http.cookies.SimpleCookie,
# send a Set-Cookie header built by it.
from http.cookies import SimpleCookie

from httpout import __server__, response

cookies = SimpleCookie(__server__.get('HTTP_COOKIE', ''))
theme = cookies['theme'].value if 'theme' in cookies else 'light'
visits = int(cookies['visits'].value) + 1 if 'visits' in cookies else 1

out = SimpleCookie()
out['visits'] = str(visits)
out['visits']['path'] = '/'
out['visits']['httponly'] = True
response.set_header('Set-Cookie', out['visits'].OutputString())

print(f'<p>Theme: {theme}</p>')
print(f'<p>Visit number {visits}</p>')
