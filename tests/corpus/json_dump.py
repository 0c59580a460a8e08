# The status of a service, as JSON.
import json
import sys

from httpout import response

status = {'service': 'billing', 'healthy': True, 'queues': {'invoices': 0, 'emails': 3}}

response.set_content_type('application/json')
json.dump(status, sys.stdout, indent=2, sort_keys=True)
sys.stdout.write('\n')
