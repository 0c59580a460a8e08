# Dump a settings structure for a quick look, the way one does in a REPL.
from pprint import pprint

settings = {
    'database': {'host': 'db.internal', 'port': 5432, 'pool': {'min': 2, 'max': 10}},
    'features': ['search', 'comments', 'uploads', 'newsletter', 'dark-mode'],
    'debug': False,
    'allowed_hosts': ('example.org', 'www.example.org'),
}

print('<pre>')
pprint(settings, width=60)
print('</pre>')
