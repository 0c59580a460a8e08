# Enums: lookups by value and name, flags, and pickling of members.
import pickle
from enum import Enum, Flag, IntEnum, auto


class Status(Enum):
    DRAFT = 'draft'
    PUBLISHED = 'published'


class Priority(IntEnum):
    LOW = 1
    HIGH = 2


class Perm(Flag):
    READ = auto()
    WRITE = auto()
    ADMIN = READ | WRITE


print(Status('published'), Status['DRAFT'].value)
print(sorted([Priority.HIGH, Priority.LOW]), Priority.HIGH > Priority.LOW)
print(Perm.READ in Perm.ADMIN, Perm.WRITE | Perm.READ == Perm.ADMIN)
print(pickle.loads(pickle.dumps(Status.DRAFT)) is Status.DRAFT)
print([member.name for member in Status])
