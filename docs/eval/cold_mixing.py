# Cold start, a tenth look (issue 11): the mix of V and Q in the cold order (C = V + rho * Q).
# Does Q's weight want to depend on the user's number of purchases, and does fusing ranks instead
# of scores help? Chosen on the 223 cold validation pairs, reported on the 449 cold test pairs.
# Reuses docs/eval/cold_seventh.py's set-up (its data, AUC and the served query Q) and its dump:
#   /usr/bin/python3 docs/eval/cold_mixing.py DIR > docs/eval/cold_mixing.txt
import sys
_src = open('docs/eval/cold_seventh.py').read()
exec(_src.split('# 1. "looks like what sells"')[0] +
     _src.split('# 4. the list profile from a warm ranking with popularity and freshness')[1].split('Hl = np.where')[0])
rows = {}
for u in list(tr_u) + list(va_u) + list(te_u): rows.setdefault(u, len(rows))
U = np.load(sys.argv[1] + '/Hybrid_users.npy')[np.array([rows[u] for u in range(nu)])].astype(np.float32)
P = np.load(sys.argv[1] + '/Hybrid_products.npy').astype(np.float32)
V = nrm(U) @ nrm(P[cold]).T
qs = Q_served(np.arange(nu)); both_u = np.r_[VAL[0], TEST[0]]
V = V / V[both_u].std(); qs = qs / qs[both_u].std()
nu_cnt = np.bincount(tr_u, minlength=nu).astype(np.float32)
report('V alone', lambda u: V[u]); report('Q alone', lambda u: qs[u])
for lo, hi in ((1, 3), (3, 6), (6, 12), (12, 10**9)):  # buckets without a pair are skipped
    for name, (pu, pi) in (('val', VAL), ('test', TEST)):
        m = (nu_cnt[pu] >= lo) & (nu_cnt[pu] < hi)
        if m.sum() == 0: continue
        a_v = auc_among(lambda u: V[u], (pu[m], pi[m]), cold); a_q = auc_among(lambda u: qs[u], (pu[m], pi[m]), cold)
        a_8 = auc_among(lambda u: V[u] + 8 * qs[u], (pu[m], pi[m]), cold)
        print('| %s, users with %d..%d purchases (%d pairs) | V %.4f | Q %.4f | V+8Q %.4f |' % (name, lo, hi - 1, m.sum(), a_v, a_q, a_8))
pick('V + w x Q (fixed w)', {'w=%g' % w: (lambda u, w=w: V[u] + w * qs[u]) for w in (0.5, 1, 2, 4, 8, 16, 32)})
pick('V + w x n_u^g x Q', {'w=%g g=%g' % (w, g): (lambda u, w=w, g=g: V[u] + (w * np.maximum(nu_cnt[u], 1) ** g)[:, None] * qs[u])
                            for w in (0.5, 1, 2, 4, 8, 16) for g in (-0.5, -0.25, 0, 0.25, 0.5, 1)})
# rank fusion: each list's ranks, not its scores
def ranks(S): return np.argsort(np.argsort(S, axis=1), axis=1).astype(np.float32)
pick('rank(V) + w x rank(Q)', {'w=%g' % w: (lambda u, w=w: ranks(V[u]) + w * ranks(qs[u])) for w in (1, 2, 4, 8, 16)})
