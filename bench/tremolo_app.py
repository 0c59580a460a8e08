"""The reference contender: bare tremolo routes that answer the same bytes as
the pages in bench/docroot/, with no httpout in between ("the limit for our
stack"). bench/run.py starts it as

    python bench/tremolo_app.py --port P --loop asyncio|uvloop --worker-num N \
        --docroot bench/docroot [--static-read-size 65536] [--hop]

With --hop, /hello.py hands the same bytes through one thread hop
(`loop.run_in_executor`, tremolo's default executor) before answering: the
least any server pays that runs a page on a thread, as httpout must
(SPEC section 3), so httpout's hello row is also read against it.
"""
import argparse
import asyncio
import os

from tremolo import Application

HELLO = b'Hello, World!\n'


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--loop', default='asyncio')
    parser.add_argument('--worker-num', type=int, default=1)
    parser.add_argument('--docroot', required=True)
    # tremolo's default; bench/run.py also runs 65536, what httpout uses
    parser.add_argument('--static-read-size', type=int, default=16384)
    parser.add_argument('--hop', action='store_true',
                        help='answer /hello.py after one run_in_executor hop')
    args = parser.parse_args()

    large_path = os.path.join(os.path.abspath(args.docroot), 'large10m.txt')
    app = Application()

    # the same body and type as docroot/hello.py under httpout
    if not args.hop:
        @app.route('/hello.py')
        async def hello(**server):
            return HELLO
    else:
        def page() -> bytes:  # on a thread, as a script is
            return HELLO

        @app.route('/hello.py')
        async def hello_hop(**server):
            return await asyncio.get_running_loop().run_in_executor(None, page)

    @app.route('/import300.py')
    async def import300(**server):
        return HELLO

    @app.route('/async_sleep.py')
    async def async_sleep(**server):
        await asyncio.sleep(0.1)
        return HELLO

    # the same 10,000,000 bytes as docroot/large.py, by tremolo's sendfile
    # from a file (docroot/large10m.txt, written by run.py), with tremolo's
    # download_rate throttle lifted (rate=-1) and a send queue that can hold
    # the whole file (max_queue_size below). With the defaults, any hiccup
    # that lets 64 pieces pile up in the queue makes the throttle sleep about
    # a second (a 10 MB page then takes 1 s); with the throttle lifted but the
    # default queue of 128 pieces, an overflow cuts the connection. httpout
    # writes to the transport itself and meets neither.
    @app.route('/large.py')
    async def large_route(response, **server):
        await response.sendfile(large_path, rate=-1,
                                content_type=b'text/html; charset=utf-8')

    # tremolo's own sendfile path, with the type httpout gives a .txt file
    def static_route(name):
        path = os.path.join(os.path.abspath(args.docroot), name)

        async def static(response, **server):
            await response.sendfile(path, buffer_size=args.static_read_size,
                                    content_type=b'text/plain; charset=utf-8')

        app.add_route(static, '/' + name)

    for name in ('static64k.txt', 'static1m.txt'):
        static_route(name)

    app.run(host=args.host, port=args.port, worker_num=args.worker_num,
            loop=args.loop, server_name='tremolo',
            max_queue_size=1024)  # 16 MiB of 16 KiB pieces: see large_route


if __name__ == '__main__':
    main()
