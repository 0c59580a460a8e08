# Message of the day, wrapped and indented with textwrap.
import textwrap

MESSAGE = '''
    The office is closed on Monday for maintenance of the heating system.
    Please take your plants home; the cleaners will not water them.
'''

text = textwrap.dedent(MESSAGE).strip()
print('<pre>')
print(textwrap.fill(text, width=40, initial_indent='* ', subsequent_indent='  '))
print(textwrap.shorten(text, width=30, placeholder=' [...]'))
print('</pre>')
