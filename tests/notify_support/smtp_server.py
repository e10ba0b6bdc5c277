"""A real SMTP server for the email tests (Debian's python3-aiosmtpd).

Usage: smtp_server.py PORT OUTDIR [USER:PASSWORD]
Each message is written to OUTDIR/NNNN.eml (raw content) after OUTDIR/NNNN.json
(envelope: mail_from, rcpt_tos, login). With USER:PASSWORD, AUTH is required (over plain
text, for the test only).
"""
import json
import os
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port = int(sys.argv[1])
outdir = sys.argv[2]
creds = sys.argv[3].split(":", 1) if len(sys.argv) > 3 else None


class Handler:
    async def handle_DATA(self, server, session, envelope):
        n = len([f for f in os.listdir(outdir) if f.endswith(".eml")])
        base = os.path.join(outdir, "%04d" % n)
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        with open(base + ".json", "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos, "login": login}, f)
        with open(base + ".tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(base + ".tmp", base + ".eml")
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and creds is not None
        and auth_data.login.decode() == creds[0]
        and auth_data.password.decode() == creds[1]
    )
    return AuthResult(success=ok, auth_data=auth_data)


kwargs = {}
if creds:
    kwargs = dict(authenticator=authenticator, auth_required=True, auth_require_tls=False)
controller = Controller(Handler(), hostname="127.0.0.1", port=port, **kwargs)
controller.start()
print("ready", flush=True)
while True:
    time.sleep(3600)
