# Log out: a POST with the CSRF token (a plain link could be triggered by
# another site), then the session is destroyed: deleted from the store,
# and its cookie expired.
from httpout import request, response, session, wait

if request.method == b'POST' and session.check_csrf(wait(request.form()).get('csrf', [''])[0]):
    session.destroy()
    response.set_status(303)
    response.set_header('Location', 'login.py')
else:
    response.set_status(303)
    response.set_header('Location', 'members.py')
