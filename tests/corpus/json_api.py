# A JSON endpoint: a JSON body in, a JSON document out, both through the
# standard streams.
import json
import sys

from httpout import response

response.set_content_type('application/json')
try:
    order = json.load(sys.stdin)
except json.JSONDecodeError as exc:
    response.set_status(400)
    json.dump({'error': 'invalid JSON: %s' % exc.msg}, sys.stdout)
else:
    total = sum(item['price'] * item['qty'] for item in order['items'])
    json.dump({'customer': order['customer'], 'total': round(total, 2)}, sys.stdout)
