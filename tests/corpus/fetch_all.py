# concurrent.futures: the pool's threads write their lines to the page.
import sys
import time
from concurrent.futures import ThreadPoolExecutor


def check(url):
    time.sleep(0.05)  # stands for the network
    sys.stdout.write(f'checked {url}\n')
    return len(url)


urls = ['https://example.org/%d' % n for n in range(8)]
with ThreadPoolExecutor(max_workers=4) as pool:
    sizes = list(pool.map(check, urls))
print('total length', sum(sizes))
