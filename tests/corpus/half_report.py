# A report with a bug in its last row: what was printed stays on the page.
rows = {'north': 4, 'south': 0}

print('<h1>Ratios</h1>')
for region, count in rows.items():
    print(f'<p>{region}: {100 / count:.0f}</p>')
