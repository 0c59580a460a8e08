# A page that fails before printing anything: a 500 page, no internals shown.
import json

settings = json.loads('{"debug": tru}')
print(settings)
