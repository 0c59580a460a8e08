from httpout import session

session['n'] = session.get('n', 0) + 1
print('Hello, World!')
