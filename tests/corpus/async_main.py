# An asyncio program, as written for the terminal: asyncio.run(main()).
import asyncio


async def fetch(name, delay):
    await asyncio.sleep(delay)
    return f'{name} after {delay}s'


async def main():
    results = await asyncio.gather(fetch('a', 0.02), fetch('b', 0.01))
    for line in results:
        print(line)
    print(await asyncio.wait_for(fetch('c', 0), timeout=1))


if __name__ == '__main__':
    asyncio.run(main())
