#!/usr/bin/python3
"""Generate streaming_fixtures.json: River's stats.Mean and stats.EWMean arithmetic, bit for bit.

River is not installable here, so this script re-states River's update rules in plain Python
float arithmetic (IEEE-754 binary64, no fused multiply-add — the same operations River performs):

  stats.Mean.update(x, w=1.0) (river/stats/mean.py, River >= 0.15):
      n += w
      mean += (w / n) * (x - mean)
  stats.EWMean.update(x) (river/stats/ewmean.py pure-Python form; the Rust RsEWMean of newer
  releases does the same operations):
      mean = x if mean == 0 else alpha * x + (1 - alpha) * mean

It also records the older Mean form, mean += w * (x - mean) / n, and checks that the two forms
give different bits on this stream, so a test that passes with one form fails with the other.

Run:  /usr/bin/python3 pkg/impute/testdata/gen_streaming_fixtures.py > pkg/impute/testdata/streaming_fixtures.json
"""

import json
import random
import struct
import sys


def bits(v):
    return struct.unpack("<Q", struct.pack("<d", v))[0]


def river_mean(xs):
    n = 0
    mean = 0.0
    out = []
    for x in xs:
        w = 1.0
        n += w
        mean += (w / n) * (x - mean)
        out.append(mean)
    return out


def old_river_mean(xs):
    n = 0
    mean = 0.0
    out = []
    for x in xs:
        w = 1.0
        n += w
        mean += w * (x - mean) / n
        out.append(mean)
    return out


def river_ewmean(xs, alpha):
    mean = 0
    out = []
    for x in xs:
        mean = alpha * x + (1.0 - alpha) * mean if mean else x
        out.append(mean)
    return out


def mean_stream(rng, n):
    xs = []
    for i in range(n):
        r = rng.random()
        if r < 0.5:
            xs.append(rng.gauss(12.0, 30.0))  # particle-like readings with noise
        elif r < 0.7:
            xs.append(rng.uniform(-1e6, 1e6))  # wide magnitudes
        elif r < 0.8:
            xs.append(float(rng.randint(0, 5000)))  # integral counts, saturated sensors
        elif r < 0.9:
            xs.append(rng.uniform(0.0, 1e-3))  # tiny values
        else:
            xs.append(0.0)
    return xs


def main():
    rng = random.Random(20240411)
    xs = mean_stream(rng, 2000)
    got = river_mean(xs)
    old = old_river_mean(xs)
    differ = sum(1 for a, b in zip(got, old) if bits(a) != bits(b))
    if differ == 0:
        sys.exit("the two Mean forms agree on this stream; it cannot tell them apart")

    ew_cases = []
    ew_inputs = [
        ("river_doc_example", 0.5, [1, 3, 5, 4, 6, 8, 7, 9, 11]),
        # mean returns to exactly 0 after (2, -2): River then restarts from the next value.
        ("zero_restarts", 0.5, [0.0, 0.0, 2.0, -2.0, 7.0, 1.5]),
        ("random_alpha_0.3", 0.3, mean_stream(random.Random(7), 500)),
        ("random_alpha_0.9", 0.9, mean_stream(random.Random(8), 500)),
    ]
    for name, alpha, seq in ew_inputs:
        seq = [float(v) for v in seq]
        ew_cases.append(
            {
                "name": name,
                "alpha": alpha,
                "x": [bits(v) for v in seq],
                "want": [bits(v) for v in river_ewmean(seq, alpha)],
            }
        )

    json.dump(
        {
            "generator": "gen_streaming_fixtures.py",
            "mean": {
                "x": [bits(v) for v in xs],
                "want": [bits(v) for v in got],
                "old_form": [bits(v) for v in old],
                "old_form_differs_at": differ,
            },
            "ewmean": ew_cases,
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
