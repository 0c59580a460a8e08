# An import that goes wrong on one row: the traceback is printed for the
# operator (to standard error), and the page carries on.
import html
import traceback

rows = ['10', '20', 'thirty', '40']
total = 0
for number, row in enumerate(rows, 1):
    try:
        total += int(row)
    except ValueError:
        traceback.print_exc()  # standard error: the server log
        print('<p>Row %d skipped: %s</p>' % (number, html.escape(traceback.format_exc(limit=0).strip())))
print('<p>Total: %d</p>' % total)
