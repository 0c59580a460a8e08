# POST a CSV file of expenses; the totals per category come back.
import csv
import sys
from collections import defaultdict

from httpout import response

response.set_content_type('text/plain; charset=utf-8')
totals = defaultdict(float)
for row in csv.DictReader(sys.stdin):
    totals[row['category']] += float(row['amount'])
for category, amount in sorted(totals.items()):
    print(f'{category:<10}{amount:>8.2f}')
