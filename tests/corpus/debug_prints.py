# Debugging the old way: prints to standard error, which go to the server
# log rather than to the page.
import sys

items = ['a', 'b', 'c']
print('debug_prints: got %d items' % len(items), file=sys.stderr)
sys.stderr.write('debug_prints: written with sys.stderr.write\n')
print('<p>%d items</p>' % len(items))
