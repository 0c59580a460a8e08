# Scripts written for Windows consoles often start by making sure their
# output is UTF-8: sys.stdout.reconfigure() (Python 3.7+).
import sys

sys.stdout.reconfigure(encoding='utf-8')

for city, temp in [('Zürich', 12), ('東京', 18), ('Reykjavík', -3)]:
    print(f'{city}: {temp} °C')
