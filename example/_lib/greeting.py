import __main__  # the page being served, also inside an imported module

from . import words  # a relative import, within the document root


def greet(name):
    return f'{words.hello()}, {name}!'


def main_page():
    return __main__.__server__['SCRIPT_NAME']
