# A page that logs as a library would: logging.getLogger(__name__).
import logging

log = logging.getLogger(__name__)

STOCK = {'tea': 12, 'cake': 1, 'jam': 0}

for product, count in STOCK.items():
    if count == 0:
        log.warning('stock: %s is sold out', product)
    elif count < 3:
        log.warning('stock: %s is running low (%d left)', product, count)
    print(f'<p>{product}: {count}</p>')
