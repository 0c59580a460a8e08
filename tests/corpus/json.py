# A page named json.py: it is browsable, and `import json` in it (and in
# every other page) is still the standard library's json.
import json
import sys

from httpout import response

response.set_content_type('application/json')
json.dump({'page': 'json.py', 'module': json.__name__,
           'stdlib': json.dumps is not None and hasattr(json, 'JSONDecoder')}, sys.stdout)
