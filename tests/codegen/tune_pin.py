#!/usr/bin/python3
"""Helper of suite_tune.sh: tune files written and read independently of cnnc.

    tune_pin.py pin REPORT.json ALGO OUT.tune   a tune file that pins every conv
                                                of the report that can take ALGO
                                                (its tune_key, algorithms_possible)
    tune_pin.py verify REPORT.json ALGO         each of those convs runs ALGO, by
                                                the tune file (report: algorithm, tuned)
    tune_pin.py best TUNE REPORT.json           each entry's best is the fastest of
                                                its times; every conv of the report
                                                with a choice has an entry
Prints what it counted; exits 1 on a mismatch, 3 when no conv can take ALGO.
"""
import json
import sys

NAMES = {"direct": "direct", "gemm": "im2col+gemm", "winograd2": "winograd F(2x2,3x3)",
         "winograd4": "winograd F(4x4,3x3)", "winograd6": "winograd F(6x6,3x3)", "depthwise": "depthwise"}


def convs(report):
    with open(report) as f:
        return [l for l in json.load(f)["layers"] if "tune_key" in l]


def main():
    cmd = sys.argv[1]
    if cmd == "pin":
        _, _, report, algo, out = sys.argv
        pins = {l["tune_key"]: {"best": algo} for l in convs(report) if algo in l["algorithms_possible"]}
        if not pins:
            return 3
        with open(out, "w") as f:
            json.dump({"cnnc_tune": 1, "convs": pins}, f, indent=1)
        print("%d conv shapes pinned to %s" % (len(pins), algo))
        return 0
    if cmd == "verify":
        _, _, report, algo = sys.argv
        bad = [l["name"] for l in convs(report) if algo in l["algorithms_possible"] and
               (l["algorithm"] != NAMES[algo] or not l["tuned"])]
        n = sum(algo in l["algorithms_possible"] for l in convs(report))
        if bad:
            print("not on %s: %s" % (algo, ", ".join(bad)))
            return 1
        print("%d convs run %s" % (n, algo))
        return 0
    if cmd == "best":
        _, _, tune, report = sys.argv
        with open(tune) as f:
            t = json.load(f)
        wrong = [k for k, e in t["convs"].items() if e["best"] != min(e["us"], key=e["us"].get)]
        missing = [l["name"] for l in convs(report) if len(l["algorithms_possible"]) > 1 and
                   (l["tune_key"] not in t["convs"] or
                    set(t["convs"][l["tune_key"]]["us"]) != set(l["algorithms_possible"]) or
                    l["algorithm"] != NAMES[t["convs"][l["tune_key"]]["best"]] or not l["tuned"])]
        if wrong or missing:
            print("best not the fastest: %s; convs without their measured choice: %s" % (wrong, missing))
            return 1
        print("%d entries, each best the fastest; every conv with a choice runs it" % len(t["convs"]))
        return 0
    return 2


sys.exit(main())
