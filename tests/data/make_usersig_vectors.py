#!/usr/bin/env python3
"""Generate tests/data/usersig_vectors.json for tests/usersig.rs.

Tickets come from two places:

* Tencent's reference Python library `tls-sig-api-v2` (PyPI), whose
  `TLSSigAPIv2(sdkappid, key).gen_sig(...)` / `gen_sig_with_userbuf(...)`
  stamp the current time, so `time` and `expire` are read back by decoding
  each ticket.
* A hand-built ticket in the style of the Go reference: compact JSON with
  sorted keys, a trailing "\\n", and zlib with no compression (header 78 01,
  stored blocks). This checks that the verifier does not depend on one
  particular encoder. Its time is fixed.

Every ticket uses a long expiry (50 years) except one that uses the library
default (180 days); the Rust tests verify at a `now` inside each ticket's
validity and test expiry by verifying at a `now` past it.

Usage:
    python3 -m venv /tmp/sigvenv
    /tmp/sigvenv/bin/pip install tls-sig-api-v2
    /tmp/sigvenv/bin/python tests/data/make_usersig_vectors.py
(writes usersig_vectors.json next to this script)
"""

import base64
import hashlib
import hmac
import json
import os
import zlib

from TLSSigAPIv2 import TLSSigAPIv2

SDKAPPID = 1400000000
KEY = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
FIFTY_YEARS = 50 * 365 * 86400
DEFAULT_EXPIRE = 180 * 86400


def url_b64encode(data: bytes) -> str:
    s = base64.b64encode(data).decode("ascii")
    return s.replace("+", "*").replace("/", "-").replace("=", "_")


def decode(usersig: str) -> dict:
    s = usersig.replace("*", "+").replace("-", "/").replace("_", "=")
    raw = zlib.decompress(base64.b64decode(s, validate=True))
    return json.loads(raw)


def hand_built_go_style(identifier, time_, expire, userbuf=None) -> str:
    """Build a ticket per the spec: sorted compact JSON + "\\n", stored zlib."""
    text = (
        "TLS.identifier:%s\n"
        "TLS.sdkappid:%d\n"
        "TLS.time:%d\n"
        "TLS.expire:%d\n" % (identifier, SDKAPPID, time_, expire)
    )
    doc = {
        "TLS.ver": "2.0",
        "TLS.identifier": identifier,
        "TLS.sdkappid": SDKAPPID,
        "TLS.expire": expire,
        "TLS.time": time_,
    }
    if userbuf is not None:
        b64 = base64.b64encode(userbuf).decode("ascii")
        text += "TLS.userbuf:%s\n" % b64
        doc["TLS.userbuf"] = b64
    mac = hmac.new(KEY.encode("utf-8"), text.encode("utf-8"), hashlib.sha256)
    doc["TLS.sig"] = base64.b64encode(mac.digest()).decode("ascii")
    raw = (json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n").encode()
    comp = zlib.compressobj(level=0)  # level 0: header 78 01, stored blocks
    data = comp.compress(raw) + comp.flush()
    assert data[:2] == b"\x78\x01", data[:2]
    return url_b64encode(data)


def main():
    api = TLSSigAPIv2(SDKAPPID, KEY)
    minted = [
        ("xiaojun", api.gen_sig("xiaojun", FIFTY_YEARS), None,
         "tls-sig-api-v2 1.1 gen_sig"),
        ("alice", api.gen_sig("alice", FIFTY_YEARS), None,
         "tls-sig-api-v2 1.1 gen_sig"),
        ("bob", api.gen_sig("bob"), None,
         "tls-sig-api-v2 1.1 gen_sig (default 180-day expiry)"),
        ("xiaojun", api.gen_sig_with_userbuf("xiaojun", FIFTY_YEARS, b"abc"), b"abc",
         "tls-sig-api-v2 1.1 gen_sig_with_userbuf"),
        ("user_01@example.com",
         api.gen_sig_with_userbuf("user_01@example.com", FIFTY_YEARS, b"\x00\xff\xfe\xfb groupdeck"),
         b"\x00\xff\xfe\xfb groupdeck",
         "tls-sig-api-v2 1.1 gen_sig_with_userbuf (binary userbuf)"),
        ("carol", hand_built_go_style("carol", 1700000000, FIFTY_YEARS), None,
         "hand-built, Go-reference style: sorted compact JSON + newline, stored zlib (78 01)"),
        ("dave", hand_built_go_style("dave", 1700000000, FIFTY_YEARS, b"room:42"), b"room:42",
         "hand-built, Go-reference style with userbuf: sorted compact JSON + newline, stored zlib (78 01)"),
    ]
    vectors = []
    for identifier, usersig, userbuf, source in minted:
        doc = decode(usersig)
        assert doc["TLS.identifier"] == identifier
        assert doc["TLS.sdkappid"] == SDKAPPID
        vectors.append({
            "sdkappid": SDKAPPID,
            "key": KEY,
            "identifier": identifier,
            "usersig": usersig,
            "time": doc["TLS.time"],
            "expire": doc["TLS.expire"],
            "userbuf": None if userbuf is None else base64.b64encode(userbuf).decode("ascii"),
            "source": source,
        })
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "usersig_vectors.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump(vectors, f, indent=2)
        f.write("\n")
    print("wrote %d vectors to %s" % (len(vectors), out))


if __name__ == "__main__":
    main()
