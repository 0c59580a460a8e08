# A folder URL (/folder/) runs the folder's index.py: a way to have URLs
# without ".py". /folder (no slash) is redirected to /folder/.
from html import escape

from httpout import __server__

print('<!DOCTYPE html><title>Folder</title>')
print('<link rel="stylesheet" href="/static/style.css">')
print('<h1>A folder index</h1>')
print(f'<p>This is <code>{__server__["SCRIPT_NAME"]}</code>, '
      f'served for the URL <code>{escape(__server__["REQUEST_URI"])}</code>.</p>')
print('<p><a href="../">Back to the demo</a></p>')
