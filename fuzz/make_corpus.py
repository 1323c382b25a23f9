#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<harness>/ (committed; rerun to regenerate them).

Seeds are small, valid and almost-valid inputs of each format, so the fuzzer starts from the
shapes the parsers accept and mutates from there. Run: python3 fuzz/make_corpus.py
"""
import base64
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(harness, name, data):
    d = os.path.join(HERE, "corpus", harness)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def b64f32(values):
    return base64.b64encode(struct.pack("<%df" % len(values), *values)).decode()


def events():
    seeds = {
        "purchase_min": '{"type":"purchase","user":"u42","product":"p7"}',
        "purchase_full": '{"type":"purchase","user":"u42","product":"p7","ts":1732550000,"weight":1.0,"event_id":"e-1"}',
        "purchase_float_ts": '{"type":"purchase","user":"u","product":"p","ts":1732550000.75,"weight":2.5}',
        "product_features": '{"type":"product","product":"p9","features":[0.1,0.0,2.3,-4e-3],"categories":["shoes"],"meta":{"title":"\\u00e9t\\u00e9"}}',
        "product_b64": '{"type":"product","product":"p9","features_b64":"%s"}' % b64f32([1, 2, 3, 4]),
        "product_b64_nopad": '{"type":"product","product":"p9","features_b64":"%s"}' % b64f32([0.5, -1, 3]).rstrip("="),
        "product_unavailable": '{"type":"product","product":"p9","available":false}',
        "product_available": '{"type":"product","product":"p9","available":true,"categories":[]}',
        "array": '[{"type":"purchase","user":"u1","product":"p1"},{"type":"product","product":"p2","features":[1,2,3,4]},{"type":"refund"},7]',
        "array_empty": "[]",
        "bad_json": '{"type":"purchase","user":"u1",',
        "unknown_type": '{"type":"refund","user":"u1","product":"p1"}',
        "missing_user": '{"type":"purchase","product":"p1"}',
        "bad_field": '{"type":"purchase","user":17,"product":"p1"}',
        "id_too_long": '{"type":"purchase","user":"%s","product":"p1"}' % ("x" * 80),
        "bad_weight": '{"type":"purchase","user":"u1","product":"p1","weight":-2}',
        "huge_weight": '{"type":"purchase","user":"u1","product":"p1","weight":1e300}',
        "huge_ts": '{"type":"purchase","user":"u1","product":"p1","ts":-1e300}',
        "bad_features": '{"type":"product","product":"p1","features":["a"]}',
        "huge_feature": '{"type":"product","product":"p1","features":[1e39,1,1,1]}',
        "bad_base64": '{"type":"product","product":"p1","features_b64":"@@@@"}',
        "both_features": '{"type":"product","product":"p1","features":[1],"features_b64":"AACAPw=="}',
        "dim_mismatch": '{"type":"product","product":"p1","features":[1]}',
        "bad_ts": '{"type":"purchase","user":"u1","product":"p1","ts":"soon"}',
        "nested": '{"type":"product","product":"p1","meta":{"a":[[[[{"b":null}]]]]}}',
        "escapes": '{"type":"purchase","user":"u\\"\\\\\\/\\b\\f\\n\\r\\t\\ud83d\\ude00","product":"p\\u0000"}',
        "duplicate_keys": '{"type":"purchase","type":"product","product":"p1","user":"u1"}',
        "plain_base64": "AAAAAAAAgD8AAABAAABAQA==",
        "bare_number": "12345",
    }
    for name, text in seeds.items():
        write("event", name, text)


def npy(descr, shape, payload, version=1, fortran="False", raw_header=None):
    header = raw_header or "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)
    pre = 10 if version == 1 else 12
    pad = (64 - (pre + len(header) + 1) % 64) % 64
    header = header + " " * pad + "\n"
    if version == 1:
        head = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header))
    else:
        head = b"\x93NUMPY" + bytes([version, 0]) + struct.pack("<I", len(header))
    return head + header.encode("latin-1") + payload


def npys():
    f4 = struct.pack("<6f", 1, 2, 3, 4, 5, 6)
    f2 = struct.pack("<4H", 0x3C00, 0x7C00, 0x0001, 0xFE00)  # 1, inf, subnormal, nan
    write("npy", "f4_2x3", npy("<f4", "(2, 3)", f4))
    write("npy", "f2_2x2_nonfinite", npy("<f2", "(2, 2)", f2))
    write("npy", "f4_v2", npy("<f4", "(3, 2)", f4, version=2))
    write("npy", "f4_v3", npy("<f4", "(1, 6)", f4, version=3))
    write("npy", "f4_1d", npy("<f4", "(6,)", f4))
    write("npy", "f4_empty", npy("<f4", "(0, 4)", b""))
    write("npy", "truncated", npy("<f4", "(2, 3)", f4[:10]))
    write("npy", "big_shape", npy("<f4", "(999999999999999, 999999)", f4))
    write("npy", "f8", npy("<f8", "(1, 1)", struct.pack("<d", 1.0)))
    write("npy", "fortran", npy("<f4", "(2, 3)", f4, fortran="True"))
    write("npy", "three_d", npy("<f4", "(1, 2, 3)", f4))
    write("npy", "double_quotes", npy(None, None, f4, raw_header='{"descr": "<f4", "fortran_order": False, "shape": (2, 3)}'))
    write("npy", "bad_magic", b"\x93NUMPX\x01\x00" + f4)


def tsvs():
    write("tsv", "basic", "user\titem\tweight\nu1\tp1\t1\nu1\tp2\t2.5\nu2\tp1\n")
    write("tsv", "crlf_blank", "user\titem\r\nu1\tp1\r\n\r\nu2\tp3\r\n")
    write("tsv", "bad_rows", "user\titem\tweight\nu1\n\tp1\nu1\tp1\t-1\nu1\tp1\tnan\nu1\tp1\t1\textra\nu1\tp1\t1e39\n")
    write("tsv", "long_ids", "user\titem\n" + "u" * 40 + "\tp1\nu1\t" + "p" * 40 + "\n")
    write("tsv", "duplicates", "user\titem\tweight\nu1\tp1\t1\nu1\tp1\t2\nu1\tp1\t3.4e38\nu1\tp1\t3.4e38\n")
    write("tsv", "header_only", "user\titem\n")
    write("tsv", "no_newline", "user\titem\nu9\tp9")
    write("tsv", "binary", b"user\titem\n\xff\xfe\t\x00p\n")


def urls():
    for i, t in enumerate([
        "/v1/users/u42/recommendations?k=20&offset=0&exclude=p1,p2&category=shoes&include_purchased=false",
        "/v1/products/p%2F1/similar?k=5",
        "/v1/users/u%201/recommendations?exclude=a%2Cb,,c&category=x+y",
        "/",
        "//a//b/?&&=&a=&=b#frag",
        "/v1/users/%zz",
        "/a?b=%4",
        "/%00%ff?%e9=%C3%A9",
    ]):
        write("url", "target%02d" % i, t)


def routes():
    adm = "Bearer adm1n-s3cret-token-A"
    rd = "Bearer r3ad-s3cret-token-A"
    reqs = [
        ("GET /v1/users/u1/recommendations?k=5&offset=2&exclude=p1,p2&category=c1&include_purchased=true", rd, ""),
        ("GET /v1/users/u1/recommendations?k=0", rd, ""),
        ("GET /v1/users/u1/recommendations?k=100000000000000000000", rd, ""),
        ("GET /v1/users/u1/recommendations?offset=-1", rd, ""),
        ("GET /v1/users/%FF%FE/recommendations", rd, ""),
        ("GET /v1/users/u1/recommendations?bogus=1", rd, ""),
        ("GET /v1/users/u1/recommendations", "", ""),
        ("GET /v1/users/u1/recommendations", "Bearer wrong", ""),
        ("GET /v1/products/p1/similar?k=3&exclude=%2C", adm, ""),
        ("POST /v1/analogy", rd, '{"positive":["p:p1","u:u2"],"negative":["u:u1"],"k":10}'),
        ("POST /v1/analogy", rd, '{"positive":[],"k":-1}'),
        ("POST /v1/analogy", rd, '{"positive":["x:y"],"extra":1}'),
        ("POST /v1/events", rd, '[{"type":"purchase","user":"u1","product":"p1"},{"type":"product"}]'),
        ("POST /v1/events", rd, '{"type":"purchase","user":"u1","product":"p1"}'),
        ("POST /v1/events", rd, '[' + ','.join(['{}'] * 30) + ']'),
        ("POST /v1/events", rd, '[{"user":"\xff"}]'),
        ("POST /v1/admin/retrain", adm, ""),
        ("POST /v1/admin/retrain", rd, ""),
        ("GET /v1/admin/status", "bearer adm1n-s3cret-token-A", ""),
        ("POST /v1/admin/rollback", adm, ""),
        ("GET /healthz", "", ""),
        ("GET /readyz", "", ""),
        ("GET /metrics", "", ""),
        ("DELETE /v1/events", rd, ""),
        ("GET /nope/" + "x" * 400, "", ""),
    ]
    for i, (line, auth, body) in enumerate(reqs):
        write("router", "req%02d" % i, (line + "\n" + auth + "\n" + body).encode("utf-8", "surrogateescape"))


if __name__ == "__main__":
    events()
    npys()
    tsvs()
    urls()
    routes()
