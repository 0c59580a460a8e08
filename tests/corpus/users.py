# Classes from a local module: pickled, copied, introspected.
import copy
import inspect
import pickle
import typing

from _shop.models import Role, User

staff = User('Bob', 'bob@example.org', Role.STAFF)
again = pickle.loads(pickle.dumps([staff, User('Ann', 'ann@example.org')]))

print(again[0] == staff, again[1].greeting(), again[1].role)
print(copy.deepcopy(staff) == staff)
print(User.__module__, typing.get_type_hints(User))
print(inspect.getsource(User.greeting), end='')
