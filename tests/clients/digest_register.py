#!/usr/bin/env python3
"""A small SIP client, independent of Switchboard's code, that registers with HTTP Digest using the
algorithm asked for (SHA-256 or MD5, RFC 7616 / RFC 8760) over UDP, and unregisters again.

usage: digest_register.py HOST PORT USER PASSWORD ALGORITHM
Prints one line per step; exits 0 only if the server accepted the registration with that algorithm."""
import hashlib
import random
import re
import socket
import sys

host, port, user, password, algorithm = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
H = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}[algorithm]


def h(text):
    return H(text.encode()).hexdigest()


sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", 0))
sock.settimeout(3)
lport = sock.getsockname()[1]
call_id = "%x@sha-client" % random.getrandbits(64)
tag = "%x" % random.getrandbits(32)


def register(cseq, expires, auth=None):
    branch = "z9hG4bK%x" % random.getrandbits(64)
    lines = [
        "REGISTER sip:%s:%d SIP/2.0" % (host, port),
        "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport" % (lport, branch),
        "Max-Forwards: 70",
        "From: <sip:%s@%s>;tag=%s" % (user, host, tag),
        "To: <sip:%s@%s>" % (user, host),
        "Call-ID: " + call_id,
        "CSeq: %d REGISTER" % cseq,
        "Contact: <sip:%s@127.0.0.1:%d>" % (user, lport),
        "Expires: %d" % expires,
    ]
    if auth:
        lines.append("Authorization: " + auth)
    lines += ["User-Agent: digest-register.py", "Content-Length: 0", "", ""]
    sock.sendto("\r\n".join(lines).encode(), (host, port))
    data, _ = sock.recvfrom(65535)
    text = data.decode()
    status = int(text.split(" ", 2)[1])
    return status, text


def challenge_for(text):
    for line in text.split("\r\n"):
        if line.lower().startswith("www-authenticate:") and ("algorithm=%s" % algorithm) in line:
            params = dict(re.findall(r'(\w+)="?([^",]+)"?', line.split(":", 1)[1].strip()[len("Digest "):]))
            return params
    return None


def authorization(ch, uri, nc):
    cnonce = "%x" % random.getrandbits(64)
    ha1 = h("%s:%s:%s" % (user, ch["realm"], password))
    ha2 = h("REGISTER:%s" % uri)
    resp = h("%s:%s:%s:%s:auth:%s" % (ha1, ch["nonce"], nc, cnonce, ha2))
    return ('Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", algorithm=%s, '
            'qop=auth, nc=%s, cnonce="%s"' % (user, ch["realm"], ch["nonce"], uri, resp, algorithm, nc, cnonce))


uri = "sip:%s:%d" % (host, port)
status, text = register(1, 600)
print("REGISTER ->", status)
if status != 401:
    sys.exit("expected 401")
ch = challenge_for(text)
if ch is None:
    sys.exit("server offered no %s challenge:\n%s" % (algorithm, text))
status, text = register(2, 600, authorization(ch, uri, "00000001"))
print("REGISTER with %s credentials ->" % algorithm, status)
if status != 200 or ("<sip:%s@127.0.0.1:%d>" % (user, lport)) not in text:
    sys.exit("expected 200 listing our contact:\n" + text)
# A wrong password with the same algorithm must be refused.
saved = password
password = "wrong-" + saved
status, _ = register(3, 600, authorization(ch, uri, "00000002"))
print("REGISTER with wrong %s credentials ->" % algorithm, status)
if status != 403:
    sys.exit("expected 403 for a wrong password")
password = saved
status, text = register(4, 0, authorization(ch, uri, "00000003"))
print("unREGISTER ->", status)
if status != 200 or "Contact:" in text:
    sys.exit("expected 200 without contacts:\n" + text)
print("ok", algorithm)
