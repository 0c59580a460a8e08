# A page named calendar.py showing a month with the standard calendar module.
import calendar

from httpout import request

year = int(request.query.get('year', ['2024'])[0])
month = int(request.query.get('month', ['2'])[0])

print('<pre>')
print(calendar.TextCalendar(calendar.MONDAY).formatmonth(year, month), end='')
print('</pre>')
print('<p>%d is %sa leap year</p>' % (year, '' if calendar.isleap(year) else 'not '))
