#!/usr/bin/python3
"""Asks a running `vasgd serve` for every test user's recommendations over HTTP and scores them
with the protocol of ../shared/data/tiktok/README.md (top k, train items masked by the daemon,
Recall@k = hits / test items of the user, NDCG@k with log2 discount over the ideal DCG, means
over users). Warm / cold: the same ranking with the user's test items restricted to products
with / without a train purchase (users without such an item left out). Prints one JSON object.

  served_quality.py --url http://127.0.0.1:PORT --data DATA_DIR [--k 20] [--threads 4]"""
import argparse, collections, concurrent.futures, json, math, sys, time, urllib.parse, urllib.request

ap = argparse.ArgumentParser()
ap.add_argument('--url', required=True)
ap.add_argument('--data', required=True)
ap.add_argument('--k', type=int, default=20)
ap.add_argument('--threads', type=int, default=4)
a = ap.parse_args()


def rows(name):
    with open(f'{a.data}/{name}.tsv') as f:
        next(f)
        for line in f:
            parts = line.rstrip('\n').split('\t')
            if len(parts) >= 2:
                yield parts[0], parts[1]


warm = {item for _, item in rows('train')}
tests = collections.defaultdict(set)
for user, item in rows('test'):
    tests[user].add(item)


def ask(user):
    q = urllib.parse.quote(user, safe='')
    with urllib.request.urlopen(f'{a.url}/v1/users/{q}/recommendations?k={a.k}', timeout=30) as r:
        body = json.load(r)
    return user, body


disc = [1 / math.log2(i + 2) for i in range(a.k)]
sums = {s: [0.0, 0.0, 0] for s in ('all', 'warm', 'cold')}
strategies = collections.Counter()
reasons = collections.Counter()
start = time.time()
with concurrent.futures.ThreadPoolExecutor(a.threads) as pool:
    for user, body in pool.map(ask, sorted(tests)):
        strategies[body.get('strategy', '?')] += 1
        top = [it['product'] for it in body['items']]
        for it in body['items']:
            reasons[it.get('reason', '?')] += 1
        for part in ('all', 'warm', 'cold'):
            held = {t for t in tests[user] if part == 'all' or (t in warm) == (part == 'warm')}
            if not held:
                continue
            hits = [1.0 if p in held else 0.0 for p in top]
            sums[part][0] += sum(hits) / len(held)
            sums[part][1] += sum(h * d for h, d in zip(hits, disc)) / sum(disc[:min(len(held), a.k)])
            sums[part][2] += 1
out = {'k': a.k, 'users': sums['all'][2], 'seconds': round(time.time() - start, 1),
       'strategies': dict(strategies), 'reasons': dict(reasons)}
for part, (rec, ndcg, n) in sums.items():
    suffix = '' if part == 'all' else '_' + part
    out[f'recall@{a.k}{suffix}'] = rec / n if n else None
    out[f'ndcg@{a.k}{suffix}'] = ndcg / n if n else None
    out[f'users{suffix}'] = n
json.dump(out, sys.stdout)
print()
