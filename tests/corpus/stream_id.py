# Writes many numbered lines through sys.stdout, flushing now and then:
# used to check that concurrent pages never mix their output.
import sys
import time

from httpout import request

tag = request.query['id'][0]
for n in range(300):
    sys.stdout.write(f'{tag}:{n:03d}\n')
    if n % 50 == 0:
        sys.stdout.flush()
        time.sleep(0.001)
