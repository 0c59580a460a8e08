# Server-Sent Events: each event is flushed at once, while the script
# goes on.
import time

from httpout import response

response.set_content_type('text/event-stream')
response.set_header('Cache-Control', 'no-cache')

for n in range(3):
    print(f'id: {n}\ndata: tick {n}\n', flush=True)
    time.sleep(0.3)
print('event: done\ndata: bye\n')
