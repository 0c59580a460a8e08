# Plain threads that print their results, like a small batch job.
import threading

lock = threading.Lock()  # one line per print, whole


def work(n):
    result = sum(range(n * 1000))
    with lock:
        print(f'job {n}: {result}')


threads = [threading.Thread(target=work, args=(n,)) for n in range(1, 6)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print('all jobs done')
