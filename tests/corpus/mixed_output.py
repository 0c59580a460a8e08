# Every way a program writes to standard output, in one page: the bytes
# must come out in the order they were written.
import sys

print('1 print')
sys.stdout.write('2 sys.stdout.write\n')
sys.stdout.buffer.write(b'3 sys.stdout.buffer.write\n')
print('4 print, flushed', flush=True)
sys.stdout.flush()
sys.stdout.buffer.write('5 bytes: caf\u00e9\n'.encode())
sys.stdout.write('6 text: caf\u00e9\n')
print('7', 'print', 'with', 'sep', sep='-')
