#!/usr/bin/env python3
"""Check a UserSig minted by groupdeck against Tencent's Python reference.

Usage: verify_usersig.py SDKAPPID KEY USERSIG [EXPECTED_IDENTIFIER]

Run with a Python that has `tls-sig-api-v2` (PyPI) installed; tests/usersig.rs
calls it when GROUPDECK_PY points at such an interpreter.

The reference package (version 1.1, module `TLSSigAPIv2`) has no verify
function, only gen_sig / gen_sig_with_userbuf. So this script:

1. verifies the ticket itself, using only the standard library, per the
   TLSSigAPIv2 format: undo the URL substitution ('*'->'+', '-'->'/',
   '_'->'='), base64-decode, zlib-inflate, parse the JSON, check TLS.ver,
   TLS.sdkappid and TLS.identifier, recompute HMAC-SHA256(key, text) over
   "TLS.identifier:..\\nTLS.sdkappid:..\\nTLS.time:..\\nTLS.expire:..\\n"
   (+ "TLS.userbuf:<base64>\\n" when present) and compare it with TLS.sig,
   then check TLS.time + TLS.expire against the clock;
2. asks the reference library to mint a ticket for the same identifier,
   expire and userbuf at the same TLS.time (by swapping the `time` module the
   library reads) and checks that both tickets decode to the same JSON object.
   The compressed bytes differ between zlib implementations, the decoded
   documents must not.

Exits 0 and prints the decoded document on success; exits 1 with a message
otherwise.
"""

import base64
import binascii
import hashlib
import hmac
import json
import sys
import time
import types
import zlib

import TLSSigAPIv2 as reference


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def decode(usersig):
    s = usersig.replace("*", "+").replace("-", "/").replace("_", "=")
    try:
        raw = zlib.decompress(base64.b64decode(s, validate=True))
        doc = json.loads(raw)
    except (binascii.Error, zlib.error, ValueError) as e:
        fail("cannot decode ticket: %s" % e)
    if not isinstance(doc, dict):
        fail("ticket JSON is not an object")
    return doc


def main():
    if len(sys.argv) not in (4, 5):
        fail("usage: verify_usersig.py SDKAPPID KEY USERSIG [EXPECTED_IDENTIFIER]")
    sdkappid = int(sys.argv[1])
    key = sys.argv[2]
    usersig = sys.argv[3]
    expected = sys.argv[4] if len(sys.argv) == 5 else None

    doc = decode(usersig)
    if doc.get("TLS.ver") != "2.0":
        fail("TLS.ver is %r" % doc.get("TLS.ver"))
    if doc.get("TLS.sdkappid") != sdkappid:
        fail("TLS.sdkappid is %r, expected %d" % (doc.get("TLS.sdkappid"), sdkappid))
    identifier = doc.get("TLS.identifier")
    if expected is not None and identifier != expected:
        fail("TLS.identifier is %r, expected %r" % (identifier, expected))
    t, expire = doc.get("TLS.time"), doc.get("TLS.expire")
    for name, v in (("TLS.time", t), ("TLS.expire", expire)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            fail("%s is %r" % (name, v))
    userbuf_b64 = doc.get("TLS.userbuf")

    text = "TLS.identifier:%s\nTLS.sdkappid:%d\nTLS.time:%d\nTLS.expire:%d\n" % (
        identifier, sdkappid, t, expire)
    if userbuf_b64 is not None:
        text += "TLS.userbuf:%s\n" % userbuf_b64
    want = hmac.new(key.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).digest()
    try:
        got = base64.b64decode(doc.get("TLS.sig", ""), validate=True)
    except binascii.Error as e:
        fail("TLS.sig is not base64: %s" % e)
    if not hmac.compare_digest(want, got):
        fail("TLS.sig does not match (wrong key?)")
    if time.time() > t + expire:
        fail("ticket expired at %d" % (t + expire))

    # Cross-check with the reference encoder at the same timestamp.
    reference.time = types.SimpleNamespace(time=lambda: t)
    api = reference.TLSSigAPIv2(sdkappid, key)
    if userbuf_b64 is None:
        ref_sig = api.gen_sig(identifier, expire)
    else:
        ref_sig = api.gen_sig_with_userbuf(identifier, expire, base64.b64decode(userbuf_b64))
    ref_doc = decode(ref_sig)
    if ref_doc != doc:
        fail("reference library encodes differently:\n ours: %r\n  ref: %r" % (doc, ref_doc))

    print(json.dumps(doc, sort_keys=True))


if __name__ == "__main__":
    main()
