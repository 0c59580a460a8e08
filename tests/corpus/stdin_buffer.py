# Checksum of an uploaded file: the raw body, as bytes.
import hashlib
import sys

from httpout import response

response.set_content_type('text/plain')
data = sys.stdin.buffer.read()
print(len(data), 'bytes')
print('sha256', hashlib.sha256(data).hexdigest())
print('more:', repr(sys.stdin.buffer.read()))  # the body is used up
