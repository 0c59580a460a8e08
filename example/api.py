# A tiny JSON API: the status, the content type and PATH_INFO.
#   /api.py           -> the list of items
#   /api.py/items/2   -> one item
#   /api.py/items/9   -> 404
import json

from httpout import __server__, response

ITEMS = {1: 'apple', 2: 'banana', 3: 'cherry'}

response.set_content_type('application/json')
path = __server__['PATH_INFO']  # what follows /api.py in the URL

if path in ('', '/', '/items'):
    exit(json.dumps([{'id': k, 'name': v} for k, v in ITEMS.items()]))

parts = path.strip('/').split('/')

if len(parts) == 2 and parts[0] == 'items' and parts[1].isdigit() and int(parts[1]) in ITEMS:
    item_id = int(parts[1])
    exit(json.dumps({'id': item_id, 'name': ITEMS[item_id]}))

response.set_status(404)
print(json.dumps({'error': f'no such resource: {path}'}))
