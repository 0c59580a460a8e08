# A plain-text report built as a list of lines, written in one go.
import sys

rows = [('apples', 12), ('pears', 7), ('plums', 31)]
lines = ['%-8s %3d\n' % row for row in rows]
lines.append('%-8s %3d\n' % ('total', sum(n for _, n in rows)))

sys.stdout.writelines(lines)
