"""A second, independent SMTP server for the mail tests: Debian's aiosmtpd
(python3-aiosmtpd) on 127.0.0.1, port 0.

Usage: aiosmtpd_server.py MODE CERT KEY USER PASSWORD
MODE: plain (no TLS), starttls (STARTTLS offered and required), smtps (TLS
from the start). AUTH PLAIN/LOGIN is offered in every mode, even plain, so
a test can prove the client never sends credentials in clear text.

Prints "PORT n" first, then "AUTH mechanism login" per AUTH attempt and
"MSG json" per message, one line each, flushed.
"""

import asyncio
import json
import logging
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult

MODE, CERT, KEY, USER, PASSWORD = sys.argv[1:6]
logging.disable(logging.CRITICAL)

CONTEXT = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
CONTEXT.load_cert_chain(CERT, KEY)


class Handler:
    async def handle_DATA(self, server, session, envelope):
        message = {
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "raw": envelope.content.decode("utf-8", "replace"),
        }
        print("MSG " + json.dumps(message), flush=True)
        return "250 OK queued by aiosmtpd"


def authenticator(server, session, envelope, mechanism, auth_data):
    login = auth_data.login.decode("utf-8", "replace")
    password = auth_data.password.decode("utf-8", "replace")
    print(f"AUTH {mechanism} {login}", flush=True)
    # handled=False: aiosmtpd then answers a failure with 535 itself.
    return AuthResult(success=(login == USER and password == PASSWORD), handled=False)


def factory():
    return SMTP(
        Handler(),
        hostname="aiosmtpd.test",
        tls_context=CONTEXT if MODE == "starttls" else None,
        require_starttls=(MODE == "starttls"),
        authenticator=authenticator,
        auth_require_tls=False,
        auth_required=False,
    )


async def main():
    loop = asyncio.get_running_loop()
    tls = CONTEXT if MODE == "smtps" else None
    server = await loop.create_server(factory, host="127.0.0.1", port=0, ssl=tls)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


asyncio.run(main())
