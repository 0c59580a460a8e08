# "View source" of the page's own functions and classes, with inspect.
import html
import inspect


class Greeter:
    """Says hello."""

    def hello(self, name):
        return 'Hello, ' + name


def shout(text):
    return text.upper() + '!'


print('<pre>')
print(html.escape(inspect.getsource(shout)), end='')
print(html.escape(inspect.getsource(Greeter)), end='')
print(inspect.getdoc(Greeter))
print(inspect.signature(Greeter.hello))
print('</pre>')
