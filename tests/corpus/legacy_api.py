# An old helper kept for compatibility, warning its callers with the
# warnings module: the warning goes to the server log.
import warnings


def fetch_rates(currency):
    warnings.warn('fetch_rates() is deprecated, use rates()', DeprecationWarning, stacklevel=2)
    return {'EUR': 0.92, 'GBP': 0.79}[currency]


print(f'<p>1 USD = {fetch_rates("EUR")} EUR</p>')
