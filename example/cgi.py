# A page written the CGI way: the form arrives on sys.stdin, the page goes
# to sys.stdout. The same file runs as `python3 cgi.py < body.txt`.
import sys
from html import escape
from urllib.parse import parse_qs

fields = parse_qs(sys.stdin.read().strip())
name = fields.get('name', [''])[0]

sys.stdout.write('<!DOCTYPE html><title>CGI style</title>\n')
sys.stdout.write('<form method="post"><input name="name" value="%s">'
                 '<button>Send</button></form>\n' % escape(name, quote=True))

if name:
    sys.stdout.write('<p>Hello, %s!</p>\n' % escape(name))
