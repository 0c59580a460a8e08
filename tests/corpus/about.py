# A page of a site that also has json.py, email.py and calendar.py pages:
# its imports of json, email and calendar are the standard library's.
import calendar
import email.utils
import json

print(json.dumps({'leap': calendar.isleap(2024),
                  'date': email.utils.format_datetime(
                      email.utils.parsedate_to_datetime('Fri, 01 Mar 2024 12:00:00 +0000')),
                  'modules': [json.__name__, email.__name__, calendar.__name__]}))
