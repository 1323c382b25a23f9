# Three more attempts at cold-start ranking (cold∩cold AUC: each cold test/validation product
# ranked among the 465 cold products, cosine), behind "What is left" in docs/EVALUATION.md.
# Validation pairs to choose, test pairs to report. From the repository root:
#   build/daemon/vasgd eval --data ../shared/data/tiktok --split test --seeds 1 --methods VASG \
#     --dump-embeddings DIR --cosine-pairs 0 --analogy-queries 0
#   /usr/bin/python3 docs/eval/cold_more.py DIR/VASG
# 1. the acoustic features beside the visual ones in the user's feature profile (WBOI-z);
# 2. a learned diagonal metric on the visual profile (BPR on each train user's newest purchase
#    held out of their profile against random warm products);
# 3. VASG's encoder score + a·profile + f·freshness (arrival order), a and f chosen on validation.
import sys; sys.path.insert(0, '../shared/peers')
import numpy as np, deepwalk_peer as d
D = '../shared/data/tiktok'
tr_u, tr_i = d.load(D + '/train.tsv'); va_u, va_i = d.load(D + '/val.tsv'); te_u, te_i = d.load(D + '/test.tsv')
img = np.load(D + '/image_feat.npy').astype(np.float32); aud = np.load(D + '/audio_feat.npy').astype(np.float32)
n = img.shape[0]; warm = np.bincount(tr_i, minlength=n) > 0; cold = np.flatnonzero(~warm); warmi = np.flatnonzero(warm)
nu = max(tr_u.max(), va_u.max(), te_u.max()) + 1
nrm = lambda A: A / (np.linalg.norm(A, axis=1, keepdims=True) + 1e-9)
zs = lambda F: nrm((F - F[warm].mean(0)) / (F[warm].std(0) + 1e-6))
def profile(Z):
    P = np.zeros((nu, Z.shape[1]), np.float32); np.add.at(P, tr_u, Z[tr_i]); return P
def auc(score, su, si):
    a = []
    for u, i in zip(su, si):
        if warm[i]: continue
        s = score(u, cold); t = score(u, np.array([i]))[0]
        a.append(((s < t).sum() + 0.5 * ((s == t).sum() - 1)) / (len(s) - 1))
    return np.mean(a)
def report(name, f): print('| %s | %.4f | %.4f |' % (name, auc(f, va_u, va_i), auc(f, te_u, te_i)))
ZI, ZA = zs(img), zs(aud); PI, PA = nrm(profile(ZI)), nrm(profile(ZA))
print('| cold products ranked by | val | test |\n|---|---|---|')
report('visual profile (WBOI-z)', lambda u, c: ZI[c] @ PI[u])
report('acoustic profile', lambda u, c: ZA[c] @ PA[u])
for w in (0.25, 0.5, 1.0):
    report('visual + %.2f acoustic' % w, lambda u, c, w=w: ZI[c] @ PI[u] + w * (ZA[c] @ PA[u]))
# 2. diagonal metric
order = np.lexsort((tr_i, tr_u)); us, its = tr_u[order], tr_i[order]
last = np.r_[us[1:] != us[:-1], True]; cnt = np.bincount(tr_u, minlength=nu)
sel = last & (cnt[us] >= 2); hu, hi = us[sel], its[sel]
held_profile = nrm(profile(ZI)[hu] - ZI[hi])
rng = np.random.default_rng(0)
for reg in (1e-3, 1e-2):
    w = np.ones(ZI.shape[1], np.float32)
    for epoch in range(60):
        j = rng.choice(warmi, len(hu)); x = held_profile * (ZI[hi] - ZI[j])
        g = (-(1 / (1 + np.exp(x @ w))))[:, None] * x
        w -= 20 * (g.mean(0) * len(hu) / 100 + reg * (w - 1))
    report('visual profile, learned diagonal metric (reg %g)' % reg, lambda u, c, w=w: (ZI[c] * w) @ PI[u])
# 3. VASG's encoder + profile + freshness
if len(sys.argv) > 1:
    P = nrm(np.load(sys.argv[1] + '_products.npy')); U = np.load(sys.argv[1] + '_users.npy')
    rows = {}
    for u in list(tr_u) + list(va_u) + list(te_u): rows.setdefault(u, len(rows))
    Ud = np.zeros((nu, U.shape[1]), np.float32)
    for u, k in rows.items(): Ud[u] = U[k]
    U = nrm(Ud); fresh = np.arange(n) / (n - 1.0)
    report('VASG encoder alone', lambda u, c: P[c] @ U[u])
    best = max(((auc(lambda u, c, a=a, f=f: P[c] @ U[u] + a * (ZI[c] @ PI[u]) + f * fresh[c], va_u, va_i), a, f)
                for a in (0, 0.5, 1, 2, 4) for f in (0, 0.1, 0.2, 0.4, 0.8)))
    _, a, f = best
    report('VASG encoder + %.1f profile + %.1f freshness (chosen on val)' % (a, f),
           lambda u, c: P[c] @ U[u] + a * (ZI[c] @ PI[u]) + f * fresh[c])
