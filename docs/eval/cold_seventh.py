# Cold start, a seventh round (issue 11, cold∩cold AUC >= 0.66 on test): signals the shipped cold
# order (C = V + rho * Q among cold products, docs/EVALUATION.md "The cold order") does not use,
# each scored as the AUC of a cold validation/test product among the 465 cold products, chosen on
# the 223 cold validation pairs and reported on the 449 cold test pairs (one test figure's
# standard error is ~0.014). Parts:
#   1. a user-independent "looks like what sells" prior: the log popularity of a cold product's
#      k visually nearest warm products (mean or sum, cosine-weighted), alone and added to Q;
#   2. a recency-weighted profile (each purchase weighted exp(-r / tau), r = 0 the user's newest);
#   3. other transforms of the visual features before the cosine (centring only, sqrt, log1p,
#      PCA whitening with power p, top principal components removed or kept);
#   4. the list profile of Q taken from a warm ranking that adds popularity and freshness to the
#      summed RP3b lists (the top-m products of the ranking, not of the lists);
#   5. freshness among cold products on a holdout like the daemon's (25 % of users with >= 2
#      purchases, their newest purchase held out), judged against every product cold in the
#      holdout's graph (as the daemon does) and against only the cold ones bought in the holdout;
#   6. V itself: a feature encoder trained to rank each product's buyers (BPR through the fixed
#      user vectors of a `vasgd eval` run; linear or one hidden layer; visual, acoustic or both),
#      in place of the dumped encoder that regresses each product's own vector.
# From the repository root (part 6 needs the Hybrid's dumped space, ~2.5 min):
#   build/daemon/vasgd eval --data ../shared/data/tiktok --split test --seeds 1 --first-seed 1 \
#     --methods Hybrid --dump-embeddings DIR --cosine-pairs 0 --analogy-queries 0 --out DIR/eval.json
#   /usr/bin/python3 docs/eval/cold_seventh.py DIR > docs/eval/cold_seventh.txt
import sys; sys.path.insert(0, '../shared/peers')
import numpy as np, scipy.sparse as sp, deepwalk_peer as d
D = '../shared/data/tiktok'
tr_u, tr_i = d.load(D + '/train.tsv'); va_u, va_i = d.load(D + '/val.tsv'); te_u, te_i = d.load(D + '/test.tsv')
img = np.load(D + '/image_feat.npy').astype(np.float32); aud = np.load(D + '/audio_feat.npy').astype(np.float32)
n = img.shape[0]; deg = np.bincount(tr_i, minlength=n); warm = deg > 0
cold = np.flatnonzero(~warm); warmi = np.flatnonzero(warm)
nu = max(tr_u.max(), va_u.max(), te_u.max()) + 1
nrm = lambda A: A / (np.linalg.norm(A, axis=1, keepdims=True) + 1e-9)
zs = lambda X: (X - X[warm].mean(0)) / (X[warm].std(0) + 1e-6)
ZI = nrm(zs(img)); ZA = nrm(zs(aud))                                   # WBOI-z item vectors
R = sp.csr_matrix((np.ones(len(tr_u), np.float32), (tr_u, tr_i)), shape=(nu, n)); R.data[:] = 1
cpos = np.full(n, -1); cpos[cold] = np.arange(len(cold))
VAL = (va_u[~warm[va_i]], va_i[~warm[va_i]]); TEST = (te_u[~warm[te_i]], te_i[~warm[te_i]])
fresh = np.arange(n) / (n - 1.0)
idf = np.maximum(deg, 1).astype(np.float32) ** -0.5

def auc_among(S, pairs, cands):
    """Mean over the pairs (u, i) of the AUC of i among `cands` under the scores S(u) (users x cands)."""
    u, i = pairs; pos = np.full(n, -1); pos[cands] = np.arange(len(cands))
    s = S(u); t = s[np.arange(len(i)), pos[i]][:, None]
    return (((s < t).sum(1) + 0.5 * ((s == t).sum(1) - 1)) / (s.shape[1] - 1)).mean()
def both(S): return auc_among(S, VAL, cold), auc_among(S, TEST, cold)
def row(name, v, t): print('| %s | %.4f | %.4f |' % (name, v, t), flush=True)
def report(name, S): row(name, *both(S))
def pick(name, grid):
    """grid: {label: S}; reports the label best on validation."""
    res = {k: both(S) for k, S in grid.items()}; best = max(res, key=lambda k: res[k][0])
    row('%s, chosen on val among %d: %s' % (name, len(grid), best), *res[best])
def profile_scores(Z, weights=None):
    W = R if weights is None else sp.csr_matrix((weights, (tr_u, tr_i)), shape=(nu, n))
    P = nrm(np.asarray(W @ Z)) @ Z[cold].T
    return lambda u: P[u]

print('| cold products ranked by | val | test |\n|---|---|---|')
report('visual profile (WBOI-z), reference', profile_scores(ZI))
P_idf = nrm(np.asarray((R @ sp.diags(idf)) @ ZI)); Qidf = P_idf @ ZI[cold].T
report('IDF profile (deg^-0.5), reference', lambda u: Qidf[u])

# 1. "looks like what sells"
Sc = ZI[cold] @ ZI[warmi].T; logpop = np.log1p(deg[warmi]).astype(np.float32)
z = lambda x: (x - x.mean()) / (x.std() + 1e-9)
sd = Qidf[np.r_[VAL[0], TEST[0]]].std()
for k in (10, 50, 200, 1000):
    idx = np.argpartition(-Sc, k, axis=1)[:, :k]; W = np.zeros_like(Sc)
    np.put_along_axis(W, idx, np.maximum(np.take_along_axis(Sc, idx, 1), 0), 1)
    for how, prior in (('mean', z((W @ logpop) / (W.sum(1) + 1e-9))), ('sum', z(W @ logpop))):
        report('1. popularity of the %d visually nearest warm products (%s), alone' % (k, how),
               lambda u, p=prior: np.broadcast_to(p, (len(u), len(cold))))
        pick('1. IDF profile + w x that prior (k=%d, %s)' % (k, how),
             {'w=%g' % w: (lambda u, p=prior, w=w: Qidf[u] / sd + w * p) for w in (0.01, 0.02, 0.05, 0.1, 0.2)})

# 2. recency within the user's history (train.tsv lists each user's purchases oldest first)
order = np.lexsort((np.arange(len(tr_u)), tr_u)); start = np.r_[0, np.flatnonzero(np.diff(tr_u[order])) + 1]
cnt = np.diff(np.r_[start, len(order)]); pos = np.arange(len(order)) - np.repeat(start, cnt)
from_newest = np.empty(len(tr_u)); from_newest[order] = np.repeat(cnt, cnt) - 1 - pos
pick('2. IDF profile, purchases also weighted exp(-r/tau)',
     {'tau=%g' % t: profile_scores(ZI, (idf[tr_i] * np.exp(-from_newest / t)).astype(np.float32)) for t in (1, 2, 4, 8)})

# 3. feature transforms
U_, S_, Vt = np.linalg.svd(zs(img)[warm], full_matrices=False)
transforms = {'centred only': nrm(img - img[warm].mean(0)), 'sqrt, z': nrm(zs(np.sqrt(img))),
              'log1p, z': nrm(zs(np.log1p(img)))}
for p in (0.5, 0.25, -0.25, -0.5, -1.0):
    transforms['PCA whitened, power %g' % p] = nrm((zs(img) @ Vt.T) * (S_ / S_[0]) ** -p)
for k in (1, 2, 4): transforms['top %d PCs removed' % k] = nrm(zs(img) - (zs(img) @ Vt[:k].T) @ Vt[:k])
for k in (16, 32, 64): transforms['top %d PCs kept' % k] = nrm(zs(img) @ Vt[:k].T)
for name, Z in transforms.items():
    report('3. IDF profile, features %s' % name, profile_scores(Z, idf[tr_i].astype(np.float32)))

# 4. the list profile from a warm ranking with popularity and freshness
du = np.maximum(np.asarray(R.sum(1)).ravel(), 1); di = np.maximum(deg, 1).astype(np.float32)
Pui = (sp.diags(1 / du) @ R).power(0.8).tocsr(); Piu = (sp.diags(1 / di) @ R.T).power(0.8).tocsr()
Wl = (Piu @ Pui).toarray().astype(np.float32); np.fill_diagonal(Wl, 0)
np.put_along_axis(Wl, np.argpartition(-Wl, 100, axis=1)[:, 100:], 0, axis=1)      # top-100 lists
users = np.unique(np.r_[VAL[0], TEST[0]])
Lsum = np.asarray((R[users] @ sp.csr_matrix(Wl)).todense()); Lsum[:, ~warm] = 0
def list_query(H, m, lam, weighted):
    top = np.argpartition(-H, m, axis=1)[:, :m]; Wt = np.zeros_like(H)
    np.put_along_axis(Wt, top, np.take_along_axis(Lsum, top, 1) if weighted else 1.0, 1)
    L = np.zeros((nu, ZI.shape[1]), np.float32); L[users] = nrm(Wt @ ZI); Q = nrm(P_idf + lam * L) @ ZI[cold].T
    return lambda u: Q[u]
Q_served = list_query(Lsum, 50, 0.5, True); report('4. the served query Q (top-50 of the summed lists, lambda 0.5), reference', Q_served)
Hl = np.where(warm[None, :] & (R[users].toarray() == 0), Lsum / (Lsum.max(1, keepdims=True) + 1e-9), -np.inf)
lp = np.log1p(deg) / np.log1p(deg).max()
pick('4. Q with its list profile from the top-m of lists + a x popularity + f x freshness',
     {'a=%g f=%g m=%d lambda=%g' % (a, f, m, l): list_query(Hl + a * lp + f * fresh, m, l, False)
      for a in (0, 0.5, 1, 2) for f in (0, 0.5, 1) for m in (20, 50) for l in (0.5, 1)})

# 5. freshness among cold products on a daemon-like holdout
phis = (0, 0.05, 0.1, 0.2, 0.4, 0.8)
def fresh_line(name, Q, pairs, cands):
    print('| 5. %s: phi %s | %s |' % (name, ' / '.join('%g' % p for p in phis),
          ' / '.join('%.4f' % auc_among(lambda u: Q[u] @ ZI[cands].T + p * fresh[cands], pairs, cands) for p in phis)), flush=True)
print('\n| part 5: Q_idf + phi x freshness among cold products | AUC per phi |\n|---|---|')
fresh_line('test, the 465 cold', P_idf, TEST, cold); fresh_line('validation, the 465 cold', P_idf, VAL, cold)
newest = np.full(nu, -1); np.maximum.at(newest, tr_u, tr_i); cnt_u = np.bincount(tr_u, minlength=nu)
for seed in (1, 2, 3):
    all_users = np.unique(tr_u); rng = np.random.default_rng(seed)
    held = all_users[(cnt_u[all_users] >= 2) & (rng.random(len(all_users)) < 0.25)]
    out = np.isin(tr_u, held) & (tr_i == newest[tr_u]); deg_h = np.bincount(tr_i[~out], minlength=n)
    Rh = sp.csr_matrix((np.ones((~out).sum(), np.float32), (tr_u[~out], tr_i[~out])), shape=(nu, n))
    Qh = nrm(np.asarray((Rh @ sp.diags(np.maximum(deg_h, 1).astype(np.float32) ** -0.5)) @ ZI))
    cold_h = np.flatnonzero(deg_h == 0); c = deg_h[tr_i[out]] == 0; pairs = (tr_u[out][c], tr_i[out][c])
    fresh_line('holdout seed %d (%d cold pairs), among all %d cold in its graph' % (seed, c.sum(), len(cold_h)), Qh, pairs, cold_h)
    bought = np.intersect1d(cold_h, pairs[1])
    fresh_line('holdout seed %d, among only the %d of them bought in the holdout' % (seed, len(bought)), Qh, pairs, bought)

# 6. V: an encoder trained to rank buyers
if len(sys.argv) > 1:
    rows = {}
    for u in list(tr_u) + list(va_u) + list(te_u): rows.setdefault(u, len(rows))  # eval's dense user ids
    U = np.load(sys.argv[1] + '/Hybrid_users.npy')[np.array([rows[u] for u in range(nu)])].astype(np.float32)
    P = np.load(sys.argv[1] + '/Hybrid_products.npy').astype(np.float32)
    print('\n| part 6 (%s): V alone, and V + w x Q (w on val) | val | test |\n|---|---|---|' % sys.argv[1])
    qs = Q_served(np.arange(nu)); qsd = qs[np.r_[VAL[0], TEST[0]]].std()
    def with_query(name, V):
        V = V / (V[np.r_[VAL[0], TEST[0]]].std() + 1e-9); report('6. %s alone' % name, lambda u: V[u])
        pick('6. %s + w x Q' % name, {'w=%g' % w: (lambda u, w=w: V[u] + w * qs[u] / qsd) for w in (0.5, 1, 2, 4, 8)})
    with_query('the dumped encoder (regresses each product\'s vector)', U @ P[cold].T)
    rng = np.random.default_rng(0); sig = lambda x: 1 / (1 + np.exp(-x))
    def bpr_encoder(F, hidden, reg, epochs=20, lr=1e-3, bs=2048):
        f_in, dim = F.shape[1], U.shape[1]
        if hidden:
            params = [(rng.standard_normal((f_in, hidden)) * np.sqrt(2 / f_in)).astype(np.float32),
                      np.zeros(hidden, np.float32), (rng.standard_normal((hidden, dim)) * np.sqrt(1 / hidden)).astype(np.float32)]
        else:
            params = [(rng.standard_normal((f_in, dim)) * np.sqrt(1 / f_in)).astype(np.float32)]
        def grads(idx):
            u = U[tr_u[idx]]; fp = F[tr_i[idx]]; fq = F[warmi[rng.integers(0, len(warmi), len(idx))]]
            if not hidden:
                c = -(1 - sig((u * ((fp - fq) @ params[0])).sum(1)))[:, None] / len(idx)
                return [(fp - fq).T @ (c * u) + reg * params[0]]
            W1, b1, W2 = params; hp, hq = fp @ W1 + b1, fq @ W1 + b1; ap, aq = np.maximum(hp, 0), np.maximum(hq, 0)
            c = -(1 - sig((u * ((ap - aq) @ W2)).sum(1)))[:, None] / len(idx); cu = c * u
            dp, dq = (cu @ W2.T) * (hp > 0), -(cu @ W2.T) * (hq > 0)
            return [fp.T @ dp + fq.T @ dq + reg * W1, dp.sum(0) + dq.sum(0), (ap - aq).T @ cu + reg * W2]
        m = [np.zeros_like(p) for p in params]; v = [np.zeros_like(p) for p in params]; t = 0
        for _ in range(epochs):                                                # Adam
            perm = rng.permutation(len(tr_u))
            for b in range(0, len(perm), bs):
                t += 1
                for k, g in enumerate(grads(perm[b:b + bs])):
                    m[k] = 0.9 * m[k] + 0.1 * g; v[k] = 0.999 * v[k] + 0.001 * g * g
                    params[k] -= lr * (m[k] / (1 - 0.9 ** t)) / (np.sqrt(v[k] / (1 - 0.999 ** t)) + 1e-8)
        x = F[cold]
        return (np.maximum(x @ params[0] + params[1], 0) @ params[2]) if hidden else x @ params[0]
    for fname, F in (('visual', ZI), ('acoustic', ZA), ('visual + acoustic', np.concatenate([ZI, ZA], 1))):
        for hidden in (0, 256):
            for reg in (1e-4, 1e-3):
                with_query('BPR encoder, %s, hidden %d, reg %g' % (fname, hidden, reg), U @ bpr_encoder(F, hidden, reg).T)
