# The usual shape of a script: functions, then a main() behind the guard.
def rows():
    return [('north', 120), ('south', 80), ('east', 95)]


def render(data):
    width = max(len(region) for region, _ in data)
    for region, amount in data:
        print(f'{region:<{width}}  {amount:>5}')
    print(f'{"total":<{width}}  {sum(a for _, a in data):>5}')


def main():
    print('<pre>')
    render(rows())
    print('</pre>')


if __name__ == '__main__':
    main()
