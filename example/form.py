# A form that posts back to itself: GET shows it, POST echoes the fields.
from html import escape

from httpout import request, wait

# Read the body before printing: if it fails, the client gets an error page.
form = wait(request.form()) if request.method == b'POST' else None  # {'name': ['...']}

print('<!DOCTYPE html><title>Form</title>')
print('<link rel="stylesheet" href="/static/style.css">')
print('<h1>Form</h1>')

if form is not None:
    print('<p>You sent:</p><ul>')

    for name, values in form.items():
        for value in values:
            print(f'<li><b>{escape(name)}</b>: {escape(value)}</li>')

    print('</ul><p><a href="form.py">Again</a></p>')
else:
    print('''<form method="post" action="form.py">
  <p><label>Name <input name="name" required></label></p>
  <p><label>Colour <select name="colour">
    <option>red</option><option>green</option><option>blue</option>
  </select></label></p>
  <p><label>Comment <textarea name="comment"></textarea></label></p>
  <p><button>Send</button></p>
</form>''')
