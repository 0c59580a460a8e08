# A form letter with string.Template.
from string import Template

LETTER = Template('Dear $name,\n\nyour order #$number ships on $day.\nCost: $$${total}\n')

print(LETTER.substitute(name='Ann', number=42, day='Monday', total='9.50'), end='')
print(Template('Hi $name, $missing').safe_substitute(name='Bob'))
