"""The `websocket` object of a script: tremolo's WebSocket, accepted on demand.

Rules owned here:
- A request is a WebSocket request when it carries `Upgrade: websocket` and
  a `Sec-WebSocket-Key`, and upgrades are enabled (not `--no-ws`); only
  then does a script get a `websocket`, else `None`.
- The handshake (101 Switching Protocols) is sent by whichever comes first:
  the first `async for message in websocket` or the first `send()`, so a
  script may speak first.
"""
from __future__ import annotations

from typing import Any, Optional, Union

from tremolo.lib.websocket import WebSocket as TremoloWebSocket

__all__ = ('WebSocket', 'websocket_for')


class WebSocket(TremoloWebSocket):
    async def send(self, payload_data: Union[bytes, bytearray, str],
                   fin: int = 1, opcode: Optional[int] = None) -> None:
        if not self.request.upgraded:
            await self.accept()

        await super().send(payload_data, fin=fin, opcode=opcode)


def websocket_for(request: Any, response: Any, enabled: bool) -> Optional[WebSocket]:
    headers = request.headers

    if (enabled and b'sec-websocket-key' in headers and
            headers.get(b'upgrade', [b''])[0].lower() == b'websocket'):
        return WebSocket(request, response)

    return None
