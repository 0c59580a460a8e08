# File upload: the parts of a multipart body arrive one by one through
# request.files(), an async generator, so it is read inside a coroutine.
import hashlib
from html import escape

from httpout import request, wait


async def read_files():
    files = []  # (field, file name, size, sha256) of each uploaded file
    digest, size = hashlib.sha256(), 0

    async for part in request.files():
        if not part.get('filename'):
            continue  # an ordinary form field, or no file chosen

        digest.update(part['data'])
        size += len(part['data'])

        if part['eof']:  # a big file comes in pieces; this is its last one
            files.append((part['name'], part['filename'], size, digest.hexdigest()))
            digest, size = hashlib.sha256(), 0

    return files


# Read the body before printing: if it fails, the client gets an error page.
uploaded = wait(read_files()) if request.method == b'POST' else None

print('<!DOCTYPE html><title>Upload</title>')
print('<link rel="stylesheet" href="/static/style.css">')
print('<h1>Upload</h1>')

if uploaded is not None:
    print('<table><tr><th>field</th><th>file</th><th>bytes</th><th>sha256</th></tr>')

    for field, filename, size, sha256 in uploaded:
        print(f'<tr><td>{escape(field)}</td><td>{escape(filename)}</td>'
              f'<td>{size}</td><td><code>{sha256}</code></td></tr>')

    print('</table><p><a href="upload.py">Again</a></p>')
else:
    print('''<form method="post" action="upload.py" enctype="multipart/form-data">
  <p><input type="file" name="file" multiple></p>
  <p><button>Upload</button></p>
</form>''')
