# run() and wait(): the script runs on a thread of its own, coroutines run
# on the server's event loop.
import asyncio
import time

from httpout import run, wait

start = time.perf_counter()


def elapsed():
    return f'{time.perf_counter() - start:4.1f}s'


async def nap(name, seconds):
    await asyncio.sleep(seconds)
    return f'{name} slept {seconds}s'


async def three_naps():
    return await asyncio.gather(nap('a', 1), nap('b', 1), nap('c', 1))


print('<!DOCTYPE html><title>run and wait</title>')
print('<link rel="stylesheet" href="/static/style.css">')
print('<pre>')

# wait(): run a coroutine on the loop and block this thread for its result.
# The three naps run concurrently: about 1 second in all, not 3.
for line in wait(three_naps()):
    print(elapsed(), line)

# run(): start a coroutine and go on at once; it returns a Future.
future = run(nap('background', 2))
print(elapsed(), 'started a 2 s nap in the background')

# Blocking code is fine: it holds this script's thread, not the server.
time.sleep(1)
print(elapsed(), 'time.sleep(1) done, the nap still runs')

result = future.result()  # blocks until the nap is over
print(elapsed(), result)
print('</pre>')
