# Send a file from a private folder as a download, the way CGI scripts
# stream files: copied to standard output as bytes.
import os
import shutil
import sys

from httpout import response

path = os.path.join(os.path.dirname(__file__), '_files', 'minutes.txt')

response.set_content_type('text/plain; charset=utf-8')
response.set_header('Content-Disposition', 'attachment; filename="minutes.txt"')
response.set_header('Content-Length', str(os.path.getsize(path)))
with open(path, 'rb') as file:
    shutil.copyfileobj(file, sys.stdout.buffer)
