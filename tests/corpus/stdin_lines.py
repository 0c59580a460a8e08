# wc for the web: POST some text, get its line, word and byte counts.
import sys

from httpout import response

response.set_content_type('text/plain; charset=utf-8')
lines = words = chars = 0
for line in sys.stdin:
    lines += 1
    words += len(line.split())
    chars += len(line)
print(f'{lines} lines, {words} words, {chars} characters')
