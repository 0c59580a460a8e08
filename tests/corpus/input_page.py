# A console program, unchanged: it reads lines with input() until EOF.
from httpout import response

response.set_content_type('text/plain; charset=utf-8')
total = 0
count = 0
while True:
    try:
        line = input()
    except EOFError:
        break
    if line.strip():
        total += float(line)
        count += 1
if count:
    print(f'{count} numbers, average {total / count:.2f}')
else:
    print('no numbers')
