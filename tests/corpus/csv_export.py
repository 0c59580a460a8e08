# Download the month's sales as a spreadsheet.
import csv
import sys

from httpout import response

sales = [
    ('2024-03-01', 'Widget', 3, 9.99),
    ('2024-03-02', 'Gadget, large', 1, 24.5),
    ('2024-03-04', 'Widget "Pro"', 2, 19.99),
]

response.set_content_type('text/csv; charset=utf-8')
response.set_header('Content-Disposition', 'attachment; filename="sales-2024-03.csv"')

writer = csv.writer(sys.stdout)
writer.writerow(['date', 'product', 'quantity', 'unit price'])
writer.writerows(sales)
