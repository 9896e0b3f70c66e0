"""Python baselines for bench/goals_bench.lua: the EIOTCLUB signer and the
Huawei Cloud SDK-HMAC-SHA256 signer (the algorithm of huaweicloudsdkcore's
signer.py), written with the standard library only (hashlib, hmac) so that
Debian's python3 runs them.

    python3 bench/signers.py eiotclub|huawei SECONDS < request.json

Prints one JSON line: {"signature": ..., "rate": signatures per second of
CPU time, as bench/support.lua measures simkit}. The
Lua side checks that the signature is simkit's, so both sides do the same
work."""
import hashlib
import hmac
import json
import sys
import time
from urllib.parse import quote, unquote, urlsplit


def sign_eiotclub(params, secret):
    entries = sorted("%s=%s&" % (k, v) for k, v in params.items() if k != "sign" and v not in ("", None))
    return hashlib.sha1(("".join(entries) + "secret=" + secret).encode()).hexdigest().upper()


def _canonical_uri(path):
    uri = "/".join(quote(seg, safe="~") for seg in unquote(path or "/").split("/"))
    return uri if uri.endswith("/") else uri + "/"


def _canonical_query(query):
    pairs = []
    for kv in filter(None, query.split("&")):
        k, _, v = kv.partition("=")
        pairs.append((unquote(k), unquote(v)))
    pairs.sort()
    return "&".join("%s=%s" % (quote(k, safe="~"), quote(v, safe="~")) for k, v in pairs)


def sign_huawei(req):
    url = urlsplit(req["url"])
    headers = dict(req["headers"])
    if not any(k.lower() == "host" for k in headers):
        headers["Host"] = url.netloc
    names = sorted((k.lower(), v.strip()) for k, v in headers.items() if k.lower() != "authorization")
    canonical_headers = "".join("%s:%s\n" % (k, v) for k, v in names)
    signed = ";".join(k for k, _ in names)
    body = req.get("body") or ""
    canonical = "\n".join([req["method"].upper(), _canonical_uri(url.path), _canonical_query(url.query),
                           canonical_headers, signed, hashlib.sha256(body.encode()).hexdigest()])
    sts = "SDK-HMAC-SHA256\n%s\n%s" % (headers["X-Sdk-Date"], hashlib.sha256(canonical.encode()).hexdigest())
    sig = hmac.new(req["sk"].encode(), sts.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = "SDK-HMAC-SHA256 Access=%s, SignedHeaders=%s, Signature=%s" % (req["ak"], signed, sig)
    return headers


def rate(f, seconds):
    f()
    n, batch, t0 = 0, 100, time.process_time()
    while True:
        for _ in range(batch):
            f()
        n += batch
        dt = time.process_time() - t0
        if dt >= seconds:
            return n / dt
        batch *= 2


def main():
    which, seconds = sys.argv[1], float(sys.argv[2])
    req = json.load(sys.stdin)
    if which == "eiotclub":
        params, secret = req["params"], req["secret"]
        sig = sign_eiotclub(params, secret)
        r = rate(lambda: sign_eiotclub(params, secret), seconds)
    else:
        sig = sign_huawei(req)["Authorization"]
        r = rate(lambda: sign_huawei(req), seconds)
    print(json.dumps({"signature": sig, "rate": r}))


if __name__ == "__main__":
    main()
