#!/usr/bin/python3
"""Generate pyrand.json: reference outputs of CPython's random.Random for internal/pyrand tests.

Run with Debian's interpreter (stdlib only):  /usr/bin/python3 gen_pyrand.py > pyrand.json

For each seed it records, from fresh random.Random(seed) instances:
  - "uint32": the first 8 getrandbits(32) outputs (raw MT19937 words);
  - "random": the first 8 random() values (repr, which round-trips exactly) and the SHA-256 of the
    first 2000 random() values packed as little-endian IEEE doubles (crosses several MT twists);
  - "uniform": uniform(a, b) for a fixed list of (a, b) pairs, drawn in order from one instance;
  - "choices": for each weight list, the indices of 40 successive choices(range(n), weights)[0]
    draws from one instance (one random() per draw, even for a single weight).
"""
import hashlib
import json
import random
import struct
import sys

SEEDS = [0, 1, 11, 42, -7, 2**32, 2**32 + 5, 2**64 - 1, 2**100 + 12345]
UNIFORM = [(0.0, 1.0), (180.0, 1020.0), (-3.5, 2.25), (0.15, 0.85), (5.0, 5.0), (1e-300, 1e300)]
WEIGHTS = [
    [1],
    [1200],
    [1.0, 1.0],
    [0.3, 0.1, 0.6],
    [0, 5, 0, 5],
    [1e-9, 1200.0, 0.5, 17.25, 3.0],
]


def case(seed):
    out = {"seed": str(seed)}
    r = random.Random(seed)
    out["uint32"] = [r.getrandbits(32) for _ in range(8)]
    r = random.Random(seed)
    vals = [r.random() for _ in range(2000)]
    out["random_first"] = [repr(v) for v in vals[:8]]
    out["random_sha256"] = hashlib.sha256(b"".join(struct.pack("<d", v) for v in vals)).hexdigest()
    r = random.Random(seed)
    out["uniform"] = [[repr(a), repr(b), repr(r.uniform(a, b))] for a, b in UNIFORM]
    r = random.Random(seed)
    ch = []
    for w in WEIGHTS:
        idx = [r.choices(range(len(w)), weights=w)[0] for _ in range(40)]
        ch.append({"weights": [repr(float(x)) for x in w], "picks": idx})
    out["choices"] = ch
    return out


json.dump({"python": sys.version.split()[0], "cases": [case(s) for s in SEEDS]}, sys.stdout, indent=1)
sys.stdout.write("\n")
