"""The shop's records, shared by several pages."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Role(Enum):
    CUSTOMER = 'customer'
    STAFF = 'staff'


@dataclass(frozen=True)
class User:
    name: str
    email: str
    role: Role = Role.CUSTOMER

    def greeting(self) -> str:
        return f'Hello, {self.name}!'
