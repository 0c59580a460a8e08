# A JSON API with pydantic models (postponed annotations, a self-reference),
# the body validated straight from standard input.
from __future__ import annotations

import sys
from typing import Optional

from pydantic import BaseModel, ValidationError

from httpout import response


class Address(BaseModel):
    city: str
    country: str = 'NO'


class Member(BaseModel):
    name: str
    age: int
    address: Optional[Address] = None
    referrals: list[Member] = []


response.set_content_type('application/json')
try:
    member = Member.model_validate_json(sys.stdin.read())
except ValidationError as exc:
    response.set_status(422)
    print('{"errors": %d}' % exc.error_count())
else:
    print(member.model_dump_json())
