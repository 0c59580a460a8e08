# Settings from the environment, as twelve-factor apps read them.
import os

name = os.environ.get('CORPUS_SITE_NAME', 'Untitled site')
mode = os.environ.get('CORPUS_MODE', 'production')
print(f'<title>{name}</title>')
print(f'<p>Running in {mode} mode.</p>')
