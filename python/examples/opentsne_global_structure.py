"""The idioms of openTSNE's documentation pages 'Preserving global structure' and 'Embedding
large data sets', on the bundled digits, with only the import swapped; prints the 10-NN
accuracy and time of each. Usage: python opentsne_global_structure.py"""
import pathlib
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python" / "tests"))
import tsne_rs.opentsne as openTSNE
x=np.loadtxt(ROOT / 'data' / 'digits.csv',delimiter=','); y=np.loadtxt(ROOT / 'data' / 'digits_labels.csv',dtype=int)
from conftest import knn_accuracy  # noqa: E402
t=time.time()
for init in ("random","pca"):
    for metric in ("euclidean","cosine"):
        e=openTSNE.TSNE(perplexity=30, initialization=init, metric=metric, n_jobs=8, random_state=3).fit(x)
        print(init, metric, round(knn_accuracy(np.asarray(e),y),4), round(time.time()-t,2)); t=time.time()
e=openTSNE.TSNE(perplexity=500, initialization="pca", metric="cosine", n_jobs=8, random_state=3).fit(x)
print("p500", round(knn_accuracy(np.asarray(e),y),4), round(time.time()-t,2)); t=time.time()
e.affinities.set_perplexities([50]); e=e.optimize(250)
print("annealing", round(knn_accuracy(np.asarray(e),y),4), round(time.time()-t,2)); t=time.time()
aff=openTSNE.affinity.Multiscale(x, perplexities=[50, 500], metric="cosine", n_jobs=8, random_state=3)
init=openTSNE.initialization.pca(x, random_state=42)
e=openTSNE.TSNE(n_jobs=8).fit(affinities=aff, initialization=init)
print("multiscale", round(knn_accuracy(np.asarray(e),y),4), round(time.time()-t,2)); t=time.time()
# 04 idioms
aff50=openTSNE.affinity.PerplexityBasedNN(x, perplexity=50, n_jobs=32, random_state=0)
init=openTSNE.initialization.rescale(x[:, 10:12])
e=openTSNE.TSNE(exaggeration=4, n_jobs=32, verbose=False).fit(affinities=aff50, initialization=init)
np.random.seed(0); indices=np.random.permutation(list(range(x.shape[0]))); reverse=np.argsort(indices)
xs, xr = x[indices[:1000]], x[indices[1000:]]
sa=openTSNE.affinity.PerplexityBasedNN(xs, perplexity=100, n_jobs=32, random_state=0)
si=openTSNE.initialization.pca(xs, random_state=42)
se=openTSNE.TSNE(n_jobs=32).fit(affinities=sa, initialization=si)
ri=se.prepare_partial(xr, k=1, perplexity=1/3)
full=np.vstack((se, ri))[reverse]; full=full/(np.std(full[:, 0])*10000)
emb=openTSNE.TSNEEmbedding(full, aff50, n_jobs=32, verbose=False, random_state=42)
e1=emb.optimize(n_iter=500, exaggeration=12); e2=e1.optimize(n_iter=250, exaggeration=4)
print("04", round(knn_accuracy(np.asarray(e2),y),4), round(time.time()-t,2))
