"""The demo's user accounts: passwords kept as salted scrypt hashes, never
as text. A real site keeps these in a database and makes them with
`hash_password()` when a user signs up."""
import hashlib
import hmac
import os

# scrypt's cost: 16 MiB and ~50 ms per check, so a stolen table is slow to crack
SCRYPT = {'n': 2 ** 14, 'r': 8, 'p': 1, 'dklen': 32}

# name: (salt, scrypt hash), both hex. The demo passwords are "demo" and "secret".
USERS = {
    'ann': ('5f1c0e6b2a9d47e3b8c4a1f09e7d3c62',
            '0b3bfa6c276b100aca888f22eb17a4fe8fa83a810062987dd21b4380c30f9d46'),
    'bob': ('a3e1c95d0b7f4a2e8d6c1b3f5e7a9c0d',
            '55d74f4e89c45cfa0ce61448dca76330c566eb93e47bd8e106f9dd78233c349d'),
}
# checked against for an unknown name, so that the answer takes as long
# as for a known one and does not tell which names exist
_NOBODY = ('00' * 16, '00' * 32)


def hash_password(password, salt=None):
    """(salt, hash) for a new password, hex; a random salt per password."""
    salt = os.urandom(16) if salt is None else salt
    digest = hashlib.scrypt(password.encode(), salt=salt, **SCRYPT)
    return salt.hex(), digest.hex()


def check_password(name, password):
    salt, expected = USERS.get(name, _NOBODY)
    _, digest = hash_password(password, bytes.fromhex(salt))
    return hmac.compare_digest(digest, expected) and name in USERS
