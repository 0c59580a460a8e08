"""httpout: run Python scripts from a web URL, their print() output streams to the browser."""

__version__ = '1.0.0'
__all__ = ('HTTPOut', '__version__')

from .server import HTTPOut  # noqa: E402
