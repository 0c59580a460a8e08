# Errors. Without --debug the browser gets a plain 500 page and the
# traceback goes to the server log; with --debug the browser sees it too.
#   /error.py          fails before any output: a 500 page
#   /error.py?after=1  fails after output was sent: that output stands
import time

from httpout import request

if 'after' in request.query:
    print('<!DOCTYPE html><title>Error after output</title>')
    print('<p>This line is sent at once, with status 200.</p>')
    time.sleep(1)  # some slow work, then...

raise RuntimeError('this page fails on purpose')
