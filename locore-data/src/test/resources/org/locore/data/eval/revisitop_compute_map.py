# Independent transcription of the Revisited Oxford/Paris evaluation (revisitop python/evaluate.py,
# compute_map and the Easy/Medium/Hard set-up of its example), used by RevisitedEvaluatorRealTest.
# Usage: python3 revisitop_compute_map.py gnd.pkl rankings.txt  (one ranking per line, space separated)
# Prints JSON {protocol: {"map": ..., "mp": [mP@1, mP@5, mP@10], "aps": [AP or null]}}.
# Only deviation from the original: a query whose ranking holds none of its positives gets mP@k = 0
# (the original fails on max() of an empty array), as in the AMES/LOCORE copy of the code.
import json
import pickle
import sys

import numpy as np

KAPPAS = [1, 5, 10]


def trapezoid_ap(ranks, nres):
    ap = 0.0
    step = 1.0 / nres
    for j, rank in enumerate(ranks):
        p0 = 1.0 if rank == 0 else float(j) / rank
        p1 = float(j + 1) / (rank + 1)
        ap += (p0 + p1) * step / 2.0
    return ap


def compute_map(rankings, gnd_t):
    total = 0.0
    pr = np.zeros(len(KAPPAS))
    aps = []
    empty = 0
    for i, g in enumerate(gnd_t):
        ok = np.asarray(g['ok'])
        if ok.shape[0] == 0:
            aps.append(None)
            empty += 1
            continue
        junk = np.asarray(g['junk'])
        r = rankings[i]
        pos = np.arange(r.shape[0])[np.in1d(r, ok)]
        jpos = np.arange(r.shape[0])[np.in1d(r, junk)]
        # shift each positive left by the number of junk images strictly before it
        shift, ij = 0, 0
        for ip in range(len(pos)):
            while ij < len(jpos) and pos[ip] > jpos[ij]:
                shift += 1
                ij += 1
            pos[ip] -= shift
        ap = trapezoid_ap(pos, len(ok))
        total += ap
        aps.append(ap)
        if len(pos) > 0:
            one_based = pos + 1
            for j, k in enumerate(KAPPAS):
                kq = min(int(one_based.max()), k)
                pr[j] += (one_based <= kq).sum() / kq
    n = len(gnd_t) - empty
    return {"map": total / n, "mp": (pr / n).tolist(), "aps": aps}


def main():
    with open(sys.argv[1], 'rb') as f:
        data = pickle.load(f, encoding='latin1')
    gnd = data['gnd']
    with open(sys.argv[2]) as f:
        lines = f.read().split('\n')
    rankings = [np.array([int(x) for x in lines[i].split()], dtype=np.int64) for i in range(len(gnd))]
    out = {}
    setups = {
        'easy': lambda g: (g['easy'], list(g['junk']) + list(g['hard'])),
        'medium': lambda g: (list(g['easy']) + list(g['hard']), g['junk']),
        'hard': lambda g: (g['hard'], list(g['junk']) + list(g['easy'])),
    }
    for name, f in setups.items():
        gnd_t = [dict(zip(('ok', 'junk'), f(g))) for g in gnd]
        out[name] = compute_map(rankings, gnd_t)
    print(json.dumps(out))


if __name__ == '__main__':
    main()
