# One script, two front ends: names come from sys.argv on the command line
# (python3 greet_cli.py Ann Bob) and from the query string on the web
# (/greet_cli.py?name=Ann&name=Bob).
import sys

if '__server__' in globals():  # run by httpout
    from httpout import request
else:
    request = None


def main(names):
    if not names:
        print('usage: greet_cli.py NAME...')
        return
    for name in names:
        print(f'Hello, {name}!')


if __name__ == '__main__':
    main(request.query.get('name', []) if request else sys.argv[1:])
