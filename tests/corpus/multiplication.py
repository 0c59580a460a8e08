# A times table, printed the same to a terminal and to a browser.
SIZE = 5

print('<table>')
for row in range(1, SIZE + 1):
    cells = ''.join(f'<td>{row * col}</td>' for col in range(1, SIZE + 1))
    print(f'<tr>{cells}</tr>')
print('</table>')
