"""A small synthetic hand model and ht input for the tests (torch_ref.py).

ADBench's hand model files (bones.txt, vertices.txt, triangles.txt and the
hand*.txt instances) are not available to the tests, so this writes an input
of the same types as GradBench's ht eval sends (its io.py reads those files
into numpy arrays and sends their tolist()): 22 bones in a random tree (a
parent is always an earlier bone), random rigid base relatives, inverse base
absolutes that really are the inverses of the chained base relatives (as in
a real model), a few dozen vertices in homogeneous coordinates with 1 to 3
bone weights summing to 1, random triangles, points near the model, and for
the complicated variant barycentric us (pairs, as the eval sends them).
"""
import math
import random

BONES = 22  # ADBench's hand; theta's finger parameters pose bones 2..20
THETA = 26


def _rotation(rng, scale):
    """A rotation matrix (list of rows) from a random angle axis."""
    a = [rng.gauss(0, scale) for _ in range(3)]
    th = math.sqrt(sum(v * v for v in a)) or 1e-300
    x, y, z = (v / th for v in a)
    c, s = math.cos(th), math.sin(th)
    return [[c + x * x * (1 - c), x * y * (1 - c) - z * s, x * z * (1 - c) + y * s],
            [y * x * (1 - c) + z * s, c + y * y * (1 - c), y * z * (1 - c) - x * s],
            [z * x * (1 - c) - y * s, z * y * (1 - c) + x * s, c + z * z * (1 - c)]]


def _matmul(A, B):
    return [[sum(A[i][k] * B[k][j] for k in range(len(B))) for j in range(len(B[0]))] for i in range(len(A))]


def _rigid_inverse(M):
    """Inverse of [[R, t], [0, 1]]: [[R^T, -R^T t], [0, 1]]."""
    R = [[M[j][i] for j in range(3)] for i in range(3)]
    t = [M[i][3] for i in range(3)]
    rt = [-sum(R[i][k] * t[k] for k in range(3)) for i in range(3)]
    return [R[i] + [rt[i]] for i in range(3)] + [[0.0, 0.0, 0.0, 1.0]]


def hand_input(seed, n_verts=40, n_tris=30, n_pts=25, complicated=False, mirrored=False, global_rot=0.5):
    rng = random.Random(seed)
    parents = [-1] + [b - 1 if rng.random() < 0.6 else rng.randrange(b) for b in range(1, BONES)]
    rel, absl = [], []
    for b in range(BONES):
        R = _rotation(rng, 0.4)
        t = [rng.uniform(-0.4, 0.4) for _ in range(3)]
        M = [R[i] + [t[i]] for i in range(3)] + [[0.0, 0.0, 0.0, 1.0]]
        rel.append(M)
        absl.append(M if parents[b] < 0 else _matmul(absl[parents[b]], M))
    inv_abs = [_rigid_inverse(A) for A in absl]
    base = [[rng.uniform(-1, 1) for _ in range(3)] + [1.0] for _ in range(n_verts)]
    weights = []
    for _ in range(n_verts):
        w = [0.0] * BONES
        bones = rng.sample(range(BONES), rng.randint(1, 3))
        raw = [rng.uniform(0.1, 1) for _ in bones]
        for b, r in zip(bones, raw):
            w[b] = r / sum(raw)
        weights.append(w)
    tris = [rng.sample(range(n_verts), 3) for _ in range(n_tris)]
    corr = [rng.randrange(n_tris if complicated else n_verts) for _ in range(n_pts)]
    points = [[rng.uniform(-2, 2) for _ in range(3)] for _ in range(n_pts)]
    us = []
    if complicated:
        for _ in range(n_pts):
            u0 = rng.uniform(0, 1)
            us.append([u0, rng.uniform(0, 1 - u0)])
    theta = [rng.gauss(0, global_rot) for _ in range(3)] + [rng.uniform(-1, 1) for _ in range(3)] + \
        [rng.uniform(-0.8, 0.8) for _ in range(THETA - 6)]
    model = {"bone_count": BONES, "bone_names": [f"bone{b}" for b in range(BONES)], "parents": parents,
             "base_relatives": rel, "inverse_base_absolutes": inv_abs, "base_positions": base,
             "weights": weights, "triangles": tris, "is_mirrored": mirrored}
    return {"theta": theta, "data": {"model": model, "correspondences": corr, "points": points}, "us": us}
