"""The close codes the service sends on a socket, and as the `close` event of a stream
(docs/WEBSOCKET.md § Close codes). The web client's copy is `CLOSE` in
web/notifications-protocol.js, held equal by tests/web/test_shared_values.py."""

CLOSE_INTERNAL = 1011
CLOSE_RESTARTING = 1012  # a planned restart: the reason says when to come back
CLOSE_BUSY = 1013  # RFC 6455 "Try Again Later": the reason says when
CLOSE_PROTOCOL = 4400
CLOSE_AUTH = 4401  # missing, invalid or expired token
CLOSE_ORIGIN = 4403
CLOSE_IDLE = 4408  # no auth message in time, or an idle socket
CLOSE_TOO_SLOW = 4409  # the client did not read its queue
CLOSE_TOO_MANY = 4429  # this user already has as many sockets as allowed
