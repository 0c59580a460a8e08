# Checksum of an uploaded file: the raw body, as bytes.
import hashlib
import sys

from httpout import response

response.set_content_type('text/plain')
digest = hashlib.sha256()
size = 0
while chunk := sys.stdin.buffer.read(4096):  # large files: a piece at a time
    digest.update(chunk)
    size += len(chunk)
print(size, 'bytes')
print('sha256', digest.hexdigest())
print('more:', repr(sys.stdin.buffer.read()))  # the body is used up
