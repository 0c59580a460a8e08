# A CGI script, ported: the query string comes from __server__ (CGI's
# environment variables), the page is written to sys.stdout.
import sys
from urllib.parse import parse_qs

from httpout import __server__

params = parse_qs(__server__['QUERY_STRING'])
city = params.get('city', ['nowhere'])[0]
days = int(params.get('days', ['1'])[0])

sys.stdout.write('<h1>Forecast for %s</h1>\n' % city.title())
sys.stdout.write('<ul>\n')
for day in range(1, days + 1):
    sys.stdout.write('<li>Day %d: sunny</li>\n' % day)
sys.stdout.write('</ul>\n')
