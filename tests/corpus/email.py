# A page named email.py that builds an e-mail with the standard library's
# email package, to preview it.
import html
from email.message import EmailMessage
from email.utils import formataddr

from httpout import request

msg = EmailMessage()
msg['From'] = formataddr(('Shop', 'shop@example.org'))
msg['To'] = request.query.get('to', ['ann@example.org'])[0]
msg['Subject'] = 'Your order'
msg.set_content('Thank you for your order.\n')

print('<pre>%s</pre>' % html.escape(msg.as_string()))
