#!/usr/bin/python3
"""gensim's skip-gram training rate on the DeepWalk corpus of ../shared/peers/deepwalk_peer.py
(same walk generation and Word2Vec call), with the frequent-token downsampling made explicit, so
bench/train_vs_gensim.sh can compare like with like. Prints one JSON line.

usage: gensim_rate.py DATA_DIR [--sample 0.001] [--dim 64] [--window 3] [--walks 10] [--length 40]
                      [--negatives 5] [--epochs 5] [--workers 2] [--max-walks N]

--max-walks N keeps the first N walks of the shuffled rounds (vasgd's train.max_walk_tokens cap
does the same) and gives gensim a vocabulary of every node of the graph (counts = degrees), so
that its table has all the rows vasgd's has, not only those the shorter corpus visits; its
train_seconds then cover model.train alone (vocab_seconds apart)."""
import argparse, json, random, time
from collections import defaultdict

import numpy as np
from gensim.models import Word2Vec


def pairs_per_walk(length, window):
    # gensim (like word2vec) draws a reduced window b uniform in [1, window] per centre token.
    total = 0.0
    for i in range(length):
        for b in range(1, window + 1):
            total += (min(b, i) + min(b, length - 1 - i)) / window
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('data')
    ap.add_argument('--sample', type=float, default=1e-3)
    ap.add_argument('--dim', type=int, default=64)
    ap.add_argument('--window', type=int, default=3)
    ap.add_argument('--walks', type=int, default=10)
    ap.add_argument('--length', type=int, default=40)
    ap.add_argument('--negatives', type=int, default=5)
    ap.add_argument('--epochs', type=int, default=5)
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--max-walks', type=int, default=0)
    a = ap.parse_args()
    random.seed(a.seed)
    np.random.seed(a.seed)
    tr = np.loadtxt(f'{a.data}/train.tsv', dtype=np.int64, skiprows=1, ndmin=2)
    adj = defaultdict(list)
    for u, i in tr:
        adj[f'u{u}'].append(f'p{i}')
        adj[f'p{i}'].append(f'u{u}')
    nodes = list(adj)
    corpus = []
    t0 = time.time()
    for _ in range(a.walks):
        random.shuffle(nodes)
        for v in nodes:
            if a.max_walks and len(corpus) >= a.max_walks:
                break
            w = [v]
            for _ in range(a.length - 1):
                w.append(random.choice(adj[w[-1]]))
            corpus.append(w)
    t1 = time.time()
    vocab_seconds = 0.0
    if a.max_walks:
        model = Word2Vec(vector_size=a.dim, window=a.window, sg=1, negative=a.negatives, min_count=1,
                         workers=a.workers, seed=a.seed, sample=a.sample)
        model.build_vocab_from_freq({v: len(adj[v]) for v in adj})
        vocab_seconds = time.time() - t1
        model.train(corpus, total_examples=len(corpus), epochs=a.epochs)
    else:
        Word2Vec(corpus, vector_size=a.dim, window=a.window, sg=1, negative=a.negatives, min_count=1,
                 workers=a.workers, epochs=a.epochs, seed=a.seed, sample=a.sample)
    train_seconds = time.time() - t1 - vocab_seconds
    tokens = sum(len(w) for w in corpus) * a.epochs
    ppt = pairs_per_walk(a.length, a.window) / a.length
    print(json.dumps({
        'walks': len(corpus), 'vocabulary': len(adj), 'tokens': tokens, 'walk_seconds': t1 - t0,
        'vocab_seconds': vocab_seconds, 'train_seconds': train_seconds,
        'seconds_per_epoch': train_seconds / a.epochs, 'tokens_per_second': tokens / train_seconds,
        'sample': a.sample, 'pairs_per_token_without_downsampling': ppt,
        # An upper bound when sample > 0 (downsampled tokens are skipped, not trained).
        'pairs_per_second': tokens * ppt / train_seconds}))


if __name__ == '__main__':
    main()
