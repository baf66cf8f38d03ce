# Independent transcription of the GLDv2 / Kaggle landmark-retrieval metric (mean average precision @ 100,
# "MeanAveragePrecision" of the GLDv2 metrics code), used by Gldv2EvaluatorTest.
# Input: one query per line, "ok ids ; ranked ids". Queries with no positives are not in the solution and
# so not averaged. Public split = all but the last 750 queries, private = the last 750.
# Prints JSON {"public": ..., "private": ..., "all": ..., "aps": [AP or null]}.
import json
import sys

MAX_PREDICTIONS = 100


def ap_at_100(ok, ranking):
    seen = set()
    hits = 0
    total = 0.0
    for i, p in enumerate(ranking[:MAX_PREDICTIONS]):
        if p in seen:
            continue
        if p in ok:
            hits += 1
            total += hits / (i + 1.0)
        seen.add(p)
    return total / min(len(ok), MAX_PREDICTIONS)


def mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def main():
    aps = []
    with open(sys.argv[1]) as f:
        for line in f.read().split('\n'):
            if not line.strip():
                continue
            ok_part, rank_part = line.split(';')
            ok = set(int(x) for x in ok_part.split())
            ranking = [int(x) for x in rank_part.split()]
            aps.append(ap_at_100(ok, ranking) if ok else None)
    split = max(0, len(aps) - 750)
    print(json.dumps({"public": mean(aps[:split]), "private": mean(aps[split:]), "all": mean(aps), "aps": aps}))


if __name__ == '__main__':
    main()
