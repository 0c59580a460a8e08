# Shows the per-worker state kept by __globals__.py.
import os
import time

from httpout import __globals__

print('<!DOCTYPE html><title>Counter</title>')
print('<link rel="stylesheet" href="/static/style.css">')
print('<h1>Counter</h1>')
print(f'<p>Worker process {os.getpid()} has served '
      f'{__globals__.requests_served()} requests '
      f'in {time.time() - __globals__.started:.0f} seconds.</p>')
print('<p>Each response also carries an <code>X-Powered-By</code> header, '
      'added by a middleware in <code>__globals__.py</code>.</p>')
print('<p><a href="counter.py">Reload</a></p>')
