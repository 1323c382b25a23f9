# Cold-start ranking (cold-among-cold AUC, cosine) of alternatives to VASG's encoder path, on a
# space dumped by `vasgd eval --dump-embeddings`. Validation pairs to choose, test pairs to report.
# The analysis behind "Why, and what would fix it" in docs/EVALUATION.md. From the repository root:
#   build/daemon/vasgd eval --data ../shared/data/tiktok --split val --seeds 1 --methods VASG,SkipGram \
#     --set '<the settings of scripts/eval-tiktok.sh>' --dump-embeddings DIR --cosine-pairs 0 --analogy-queries 0
#   /usr/bin/python3 docs/eval/cold_analysis.py DIR/VASG      (and DIR/SkipGram)
# User rows of the dump follow vasgd eval's id space: users in order of first appearance in
# train.tsv, then val.tsv, then test.tsv; products are rows of image_feat.npy.
import sys; sys.path.insert(0,'../shared/peers')
import numpy as np, deepwalk_peer as d
D='../shared/data/tiktok'
tr_u,tr_i=d.load(D+'/train.tsv'); te_u,te_i=d.load(D+'/test.tsv'); va_u,va_i=d.load(D+'/val.tsv')
pref=sys.argv[1]
P=np.load(pref+'_products.npy'); U=np.load(pref+'_users.npy')
F=np.load(D+'/image_feat.npy').astype(np.float32)
n=P.shape[0]; deg=np.bincount(tr_i,minlength=n); warm=deg>0
uid={}
for u in list(tr_u)+list(va_u)+list(te_u):
    if u not in uid: uid[u]=len(uid)
Ud=np.zeros((max(tr_u.max(),te_u.max(),va_u.max())+1,U.shape[1]),np.float32)
for u,k in uid.items(): Ud[u]=U[k]
U=Ud
nrm=lambda A: A/(np.linalg.norm(A,axis=1,keepdims=True)+1e-9)
cold=np.flatnonzero(~warm); warmi=np.flatnonzero(warm)
def per_pair(score, su, si):
    a=[]
    for u,i in zip(su,si):
        if warm[i]: continue
        s=score(u,cold); t=score(u,np.array([i]))[0]
        a.append(((s<t).sum()+0.5*((s==t).sum()-1))/(len(s)-1))
    return np.array(a)
Un=nrm(U); Pn=nrm(P)
Fs=(F-F[warm].mean(0))/(F[warm].std(0)+1e-6); Fsn=nrm(Fs)
X=np.hstack([Fs,np.ones((n,1),np.float32)])
W=np.linalg.solve(X[warm].T@X[warm]+100*np.eye(X.shape[1]),X[warm].T@Pn[warm]); Rn=nrm(X@W)
c=np.bincount(tr_u,minlength=U.shape[0]).astype(np.float32)
def profile(R):
    Up=np.zeros((U.shape[0],R.shape[1]),np.float32); np.add.at(Up,tr_u,R[tr_i]); Up[c>0]/=c[c>0,None]; return nrm(Up)
Uz=profile(Fs); Uvp=profile(Pn)
# spread: mean cosine among cold encoder outputs vs among warm vectors
rng=np.random.default_rng(0)
def mean_cos(idx):
    a=rng.choice(idx,20000); b=rng.choice(idx,20000); m=a!=b
    return float(np.einsum('ij,ij->i',Pn[a[m]],Pn[b[m]]).mean())
print('mean cosine between random cold vectors %.3f, between random warm vectors %.3f'%(mean_cos(cold),mean_cos(warmi)))
# how well the encoder reproduces warm products' own vectors is not visible here (the dump holds X_p for warm)
methods={
 'encoder (as trained), user X_u': lambda u,it: Pn[it]@Un[u],
 'ridge map F->X, user X_u': lambda u,it: Rn[it]@Un[u],
 'encoder, user = mean of own product vectors': lambda u,it: Pn[it]@Uvp[u],
 'ridge map, user = mean of own product vectors': lambda u,it: Rn[it]@Uvp[u],
 'WBOI-z (features only)': lambda u,it: Fsn[it]@Uz[u],
}
res={}
for name,f in methods.items():
    res[name]=(per_pair(f,va_u,va_i),per_pair(f,te_u,te_i))
best_a,best_v=None,-1
for a in [0.25,0.5,0.75]:
    v=per_pair(lambda u,it: a*(Fsn[it]@Uz[u])+(1-a)*(Rn[it]@Uvp[u]),va_u,va_i).mean()
    if v>best_v: best_a,best_v=a,v
f=lambda u,it: best_a*(Fsn[it]@Uz[u])+(1-best_a)*(Rn[it]@Uvp[u])
res['blend %.2f WBOI-z + %.2f ridge/profile (weight chosen on val)'%(best_a,1-best_a)]=(per_pair(f,va_u,va_i),per_pair(f,te_u,te_i))
base=res['encoder (as trained), user X_u'][1]
boot=rng.integers(0,len(base),(2000,len(base)))
print('| cold products ranked by | val (223 pairs) | test (449 pairs) | test − encoder, 95% CI |')
print('|---|---|---|---|')
for name,(v,t) in res.items():
    diff=(t-base)[boot].mean(1); lo,hi=np.percentile(diff,[2.5,97.5])
    print('| %s | %.3f | %.3f ± %.3f | %+.3f [%+.3f, %+.3f] |'%(name,v.mean(),t.mean(),t.std(ddof=1)/np.sqrt(len(t)),t.mean()-base.mean(),lo,hi))
