# an async wait: run() schedules the coroutine on the server's event loop and
# returns at once, so the thread is free; the response ends when it finishes
import asyncio

run(asyncio.sleep(0.1))
print('Hello, World!')
