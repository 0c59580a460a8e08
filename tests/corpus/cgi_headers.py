# A script that is a CGI script from a terminal (headers, a blank line, the
# body on standard output) and an httpout page on the web.
if '__server__' in globals():  # run by httpout
    from httpout import response
else:  # python3 cgi_headers.py, or a CGI server
    response = None


def header(name, value):
    if response is None:
        print('%s: %s' % (name, value))
    else:
        response.set_header(name, value)


header('Content-Type', 'text/plain; charset=utf-8')
header('Cache-Control', 'no-store')
if response is None:
    print()  # the end of the CGI headers

print('Status report')
print('All systems go.')
