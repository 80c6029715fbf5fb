// gb_adolc: bench/gradbench_compare.py's ADOL-C side, for the scalar-shaped
// evals det, ode and gmm, and ht: the same programs as wengert-gradbench
// (gradbench/evals.c, gradbench/ht.c), written once as templates and run with
// T = double for the primal and with ADOL-C's adouble tape for the gradient
// (taped anew in every run, then ADOL-C's reverse sweep `gradient`), as
// GradBench's ADOL-C tool does.  ht's jacobian is vector forward mode, as
// GradBench's ADOL-C tool computes it, but on the tape (fov_forward, one
// direction per column): its traceless adtl::adouble needs Boost's headers,
// which Debian's libadolc-dev does not pull in.  It speaks GradBench's protocol on stdin/stdout (only
// the part the driver uses; inputs are trusted, the driver writes them).
#include <adolc/adolc.h>
#include <cjson/cJSON.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

using std::vector;

static vector<double> vec(const cJSON *a)
{
    vector<double> v;
    for (const cJSON *e = a->child; e; e = e->next) {
        if (cJSON_IsArray(e))
            for (const cJSON *f = e->child; f; f = f->next) v.push_back(f->valuedouble);
        else
            v.push_back(e->valuedouble);
    }
    return v;
}

// det: the memoised expansion by minors of evals.c (each distinct minor once).
template <class T> T det(int l, const T *a)
{
    vector<T> D(size_t(1) << l);
    unsigned full = (1u << l) - 1;
    for (unsigned mask = 1; mask <= full; mask++) {
        int k = __builtin_popcount(mask), row = l - k;
        if (k == 1) {
            D[mask] = a[row * l + __builtin_ctz(mask)];
            continue;
        }
        T acc = 0;
        int pos = 0;
        for (unsigned rest = mask; rest; rest &= rest - 1, pos++) {
            int col = __builtin_ctz(rest);
            T term = a[row * l + col] * D[mask & ~(1u << col)];
            if (pos == 0)
                acc = term;
            else if (pos & 1)
                acc = acc - term;
            else
                acc = acc + term;
        }
        D[mask] = acc;
    }
    return D[full];
}

// ode: RK4 of y_0' = x_0, y_i' = x_i y_{i-1}, y(0) = 0, t in [0, 2], s steps.
template <class T> void ode(int n, int s, const T *x, T *y)
{
    vector<T> k1(n), k2(n), k3(n), k4(n), tmp(n);
    double h = 2.0 / s;
    for (int i = 0; i < n; i++) y[i] = 0;
    auto f = [&](const vector<T> &v, vector<T> &out) {
        out[0] = x[0];
        for (int i = 1; i < n; i++) out[i] = x[i] * v[i - 1];
    };
    vector<T> yv(y, y + n);
    for (int step = 0; step < s; step++) {
        f(yv, k1);
        for (int i = 0; i < n; i++) tmp[i] = yv[i] + h / 2 * k1[i];
        f(tmp, k2);
        for (int i = 0; i < n; i++) tmp[i] = yv[i] + h / 2 * k2[i];
        f(tmp, k3);
        for (int i = 0; i < n; i++) tmp[i] = yv[i] + h * k3[i];
        f(tmp, k4);
        for (int i = 0; i < n; i++) yv[i] = yv[i] + h / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
    }
    for (int i = 0; i < n; i++) y[i] = yv[i];
}

// gmm: ADBench's log-posterior, the formula of evals.c written with loops.
template <class T> T lse(int n, const T *v)
{
    T mx = v[0];
    for (int i = 1; i < n; i++)
        if (v[i] > mx) mx = v[i];
    T s = 0;
    for (int i = 0; i < n; i++) s = s + exp(v[i] - mx);
    return log(s) + mx;
}

template <class T>
T gmm(int d, int k, int n, const T *alpha, const T *mu, const T *q, const T *l, const double *x, double gamma, int m)
{
    int L = d * (d - 1) / 2;
    vector<T> qd(d * k), sum_q(k), xc(d), qx(d), main_term(k);
    for (int i = 0; i < d * k; i++) qd[i] = exp(q[i]);
    for (int c = 0; c < k; c++) {
        sum_q[c] = 0;
        for (int j = 0; j < d; j++) sum_q[c] = sum_q[c] + q[c * d + j];
    }
    T slse = 0;
    for (int p = 0; p < n; p++) {
        for (int c = 0; c < k; c++) {
            for (int j = 0; j < d; j++) xc[j] = x[p * d + j] - mu[c * d + j];
            for (int j = 0; j < d; j++) qx[j] = qd[c * d + j] * xc[j];
            int li = 0;
            for (int i = 0; i < d; i++)
                for (int j = i + 1; j < d; j++) qx[j] = qx[j] + l[c * L + li++] * xc[i];
            T sq = 0;
            for (int j = 0; j < d; j++) sq = sq + qx[j] * qx[j];
            main_term[c] = alpha[c] + sum_q[c] - 0.5 * sq;
        }
        slse = slse + lse(k, main_term.data());
    }
    double nw = d + m + 1, lg = 0.25 * d * (d - 1) * std::log(M_PI);
    for (int j = 1; j <= d; j++) lg += std::lgamma(0.5 * nw + 0.5 * (1 - j));
    double C = nw * d * (std::log(gamma) - 0.5 * std::log(2.0)) - lg;
    T prior = 0;
    for (int c = 0; c < k; c++) {
        T fro = 0;
        for (int j = 0; j < d; j++) fro = fro + qd[c * d + j] * qd[c * d + j];
        for (int j = 0; j < L; j++) fro = fro + l[c * L + j] * l[c * L + j];
        prior = prior + 0.5 * gamma * gamma * fro - m * sum_q[c];
    }
    return -n * d * 0.5 * std::log(2 * M_PI) + slse - n * lse(k, alpha) - prior + k * C;
}

// ht: the hand model of gradbench/ht.c in scalar loops (dense skinning over
// all bones, as ht.c's GEMM).  Matrices row-major.
struct Hand {
    int B = 0, n = 0;
    bool comp = false, mirrored = false;
    vector<int> parents, rows; // rows: the vertex of each point, or (comp) vertex k of point i at k n + i
    vector<double> base_rel, inv_abs, base, W, points, theta, us;
    int ix[64], iz[64];        // theta index of bone b's x and z angle, or -1
};

template <class T> void ht_err(const Hand &h, const T *theta, const T *us, T *err)
{
    int B = h.B, n = h.n;
    vector<T> rel(16 * B), ab(16 * B), tr(12 * B), TR(16);
    for (int b = 0; b < B; b++) {
        T ax = 0.0, az = 0.0;
        if (h.ix[b] >= 0) ax = theta[h.ix[b]];
        if (h.iz[b] >= 0) az = theta[h.iz[b]];
        T cx = cos(ax), sx = sin(ax), cz = cos(az), sz = sin(az);
        T R[16] = {cz, -(sz * cx), sz * sx, 0.0, sz, cz * cx, -(cz * sx), 0.0, 0.0, sx, cx, 0.0, 0.0, 0.0, 0.0, 1.0};
        const double *br = &h.base_rel[16 * b];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                T acc = 0.0;
                for (int k = 0; k < 4; k++) acc += br[4 * i + k] * R[4 * k + j];
                rel[16 * b + 4 * i + j] = acc;
            }
        int p = h.parents[b];
        for (int i = 0; i < 16; i++) ab[16 * b + i] = rel[16 * b + i];
        if (p >= 0)
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) {
                    T acc = 0.0;
                    for (int k = 0; k < 4; k++) acc += ab[16 * p + 4 * i + k] * rel[16 * b + 4 * k + j];
                    ab[16 * b + 4 * i + j] = acc;
                }
        const double *ia = &h.inv_abs[16 * b];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++) {
                T acc = 0.0;
                for (int k = 0; k < 4; k++) acc += ab[16 * b + 4 * i + k] * ia[4 * k + j];
                tr[12 * b + 4 * i + j] = acc;
            }
    }
    T Rg[9] = {1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0};
    double nv = std::sqrt(h.theta[0] * h.theta[0] + h.theta[1] * h.theta[1] + h.theta[2] * h.theta[2]);
    if (nv >= 1e-4) {
        T nrm = sqrt(theta[0] * theta[0] + theta[1] * theta[1] + theta[2] * theta[2]);
        T x = theta[0] / nrm, y = theta[1] / nrm, z = theta[2] / nrm, c = cos(nrm), s = sin(nrm);
        T R[9] = {x * x + (1.0 - x * x) * c, x * y * (1.0 - c) - z * s, x * z * (1.0 - c) + y * s,
                  x * y * (1.0 - c) + z * s, y * y + (1.0 - y * y) * c, y * z * (1.0 - c) - x * s,
                  x * z * (1.0 - c) - y * s, z * y * (1.0 - c) + x * s, z * z + (1.0 - z * z) * c};
        for (int i = 0; i < 9; i++) Rg[i] = R[i];
    }
    int nr = (int)h.rows.size();
    vector<T> v(3 * nr);
    for (int r = 0; r < nr; r++) {
        int vi = h.rows[r];
        const double *bp = &h.base[4 * vi], *w = &h.W[(size_t)B * vi];
        T pos[3] = {0.0, 0.0, 0.0};
        for (int b = 0; b < B; b++)
            for (int i = 0; i < 3; i++) {
                T acc = 0.0;
                for (int k = 0; k < 4; k++) acc += tr[12 * b + 4 * i + k] * bp[k];
                pos[i] += w[b] * acc;
            }
        if (h.mirrored) pos[0] = -pos[0];
        for (int i = 0; i < 3; i++)
            v[3 * r + i] = Rg[3 * i] * pos[0] + Rg[3 * i + 1] * pos[1] + Rg[3 * i + 2] * pos[2] + theta[3 + i];
    }
    for (int p = 0; p < n; p++)
        for (int i = 0; i < 3; i++) {
            T hp = v[3 * p + i];
            if (h.comp)
                hp = us[2 * p] * v[3 * p + i] + us[2 * p + 1] * v[3 * (n + p) + i] +
                     (1.0 - us[2 * p] - us[2 * p + 1]) * v[3 * (2 * n + p) + i];
            err[3 * p + i] = h.points[3 * p + i] - hp;
        }
}

static Hand parse_hand(cJSON *in)
{
    Hand h;
    cJSON *data = cJSON_GetObjectItem(in, "data"), *model = cJSON_GetObjectItem(data, "model");
    h.theta = vec(cJSON_GetObjectItem(in, "theta"));
    h.us = vec(cJSON_GetObjectItem(in, "us"));
    h.comp = !h.us.empty();
    for (const char *f : {"base_relatives", "inverse_base_absolutes"}) {
        vector<double> &dst = f[0] == 'b' ? h.base_rel : h.inv_abs;
        for (const cJSON *m = cJSON_GetObjectItem(model, f)->child; m; m = m->next) {
            vector<double> v = vec(m);
            dst.insert(dst.end(), v.begin(), v.end());
        }
    }
    for (const cJSON *e = cJSON_GetObjectItem(model, "parents")->child; e; e = e->next) h.parents.push_back(e->valueint);
    h.B = (int)h.parents.size();
    h.base = vec(cJSON_GetObjectItem(model, "base_positions"));
    h.W = vec(cJSON_GetObjectItem(model, "weights"));
    h.points = vec(cJSON_GetObjectItem(data, "points"));
    h.mirrored = cJSON_IsTrue(cJSON_GetObjectItem(model, "is_mirrored"));
    vector<int> corr, tri;
    for (const cJSON *e = cJSON_GetObjectItem(data, "correspondences")->child; e; e = e->next) corr.push_back(e->valueint);
    for (const cJSON *t = cJSON_GetObjectItem(model, "triangles")->child; t; t = t->next)
        for (const cJSON *e = t->child; e; e = e->next) tri.push_back(e->valueint);
    h.n = (int)corr.size();
    if (h.comp)
        for (int k = 0; k < 3; k++)
            for (int p = 0; p < h.n; p++) h.rows.push_back(tri[3 * corr[p] + k]);
    else
        h.rows = corr;
    for (int b = 0; b < 64; b++) h.ix[b] = h.iz[b] = -1;
    for (int finger = 0, k = 6, bone = 2; finger < 5; finger++, bone++)
        for (int q = 0; q < 3; q++, bone++) {
            h.ix[bone] = k++;
            if (q == 0) h.iz[bone] = k++;
        }
    return h;
}

// ht's jacobian by vector forward mode on the tape: direction c is column c
// (in the complicated variant columns 0 and 1 seed every point's u0, u1).
static void ht_jacobian(const Hand &h, vector<double> &out)
{
    int nc = (h.comp ? 2 : 0) + 26, m = 3 * h.n, off = h.comp ? 2 : 0, nu = (int)h.us.size(), ni = 26 + nu;
    trace_on(1);
    vector<adouble> th(26), us(nu), err(m);
    for (int i = 0; i < 26; i++) th[i] <<= h.theta[i];
    for (int i = 0; i < nu; i++) us[i] <<= h.us[i];
    ht_err(h, th.data(), us.data(), err.data());
    vector<double> y(m);
    for (int r = 0; r < m; r++) err[r] >>= y[r];
    trace_off();
    vector<double> x(ni), X((size_t)ni * nc, 0.0), Y((size_t)m * nc);
    vector<double *> Xp(ni), Yp(m);
    for (int i = 0; i < ni; i++) {
        x[i] = i < 26 ? h.theta[i] : h.us[i - 26];
        Xp[i] = &X[(size_t)i * nc];
        Xp[i][i < 26 ? off + i : (i - 26) % 2] = 1;
    }
    for (int r = 0; r < m; r++) Yp[r] = &Y[(size_t)r * nc];
    fov_forward(1, m, ni, nc, x.data(), Xp.data(), y.data(), Yp.data());
    out = Y; // row-major [m][nc]
}

// An evaluate request, parsed once (outside the timed runs).
struct Job {
    std::string mod;
    bool grad = false;
    int l = 0, n = 0, s = 0, d = 0, k = 0, m = 0;
    double gamma = 1;
    vector<double> a, x, p; // det: A; ode: x; gmm: x and the parameters alpha, mu, q, l
    Hand hand;
};

static Job parse(const std::string &mod, bool grad, cJSON *in)
{
    Job j;
    j.mod = mod;
    j.grad = grad;
    if (mod == "ht") {
        j.hand = parse_hand(in);
    } else if (mod == "det") {
        j.l = cJSON_GetObjectItem(in, "ell")->valueint;
        j.a = vec(cJSON_GetObjectItem(in, "A"));
    } else if (mod == "ode") {
        j.x = vec(cJSON_GetObjectItem(in, "x"));
        j.n = (int)j.x.size();
        j.s = cJSON_GetObjectItem(in, "s")->valueint;
    } else {
        j.d = cJSON_GetObjectItem(in, "d")->valueint;
        j.k = cJSON_GetObjectItem(in, "k")->valueint;
        j.n = cJSON_GetObjectItem(in, "n")->valueint;
        j.m = cJSON_GetObjectItem(in, "m")->valueint;
        j.gamma = cJSON_GetObjectItem(in, "gamma")->valuedouble;
        j.x = vec(cJSON_GetObjectItem(in, "x"));
        j.p = vec(cJSON_GetObjectItem(in, "alpha"));
        for (const char *f : {"mu", "q", "l"}) {
            vector<double> v = vec(cJSON_GetObjectItem(in, f));
            j.p.insert(j.p.end(), v.begin(), v.end());
        }
    }
    return j;
}

// One run: the primal (T = double) or the gradient (tape, then reverse sweep).
static double run(Job &j, vector<double> &out)
{
    if (j.mod == "ht") {
        if (j.grad) {
            ht_jacobian(j.hand, out);
        } else {
            out.assign(3 * j.hand.n, 0);
            ht_err(j.hand, j.hand.theta.data(), j.hand.us.data(), out.data());
        }
        return 0;
    }
    if (j.mod == "det") {
        vector<double> &a = j.a;
        if (!j.grad) return det(j.l, a.data());
        trace_on(1);
        vector<adouble> aa(a.size());
        for (size_t i = 0; i < a.size(); i++) aa[i] <<= a[i];
        adouble y = det(j.l, aa.data());
        double yv;
        y >>= yv;
        trace_off();
        out.assign(a.size(), 0);
        gradient(1, (int)a.size(), a.data(), out.data());
        return yv;
    }
    if (j.mod == "ode") {
        int n = j.n;
        out.assign(n, 0);
        if (!j.grad) {
            ode(n, j.s, j.x.data(), out.data());
            return 0;
        }
        trace_on(1);
        vector<adouble> ax(n), ay(n);
        for (int i = 0; i < n; i++) ax[i] <<= j.x[i];
        ode(n, j.s, ax.data(), ay.data());
        double yv;
        ay[n - 1] >>= yv;
        trace_off();
        gradient(1, n, j.x.data(), out.data());
        return yv;
    }
    int d = j.d, k = j.k, L = d * (d - 1) / 2;
    vector<double> &p = j.p;
    const int o_mu = k, o_q = k + k * d, o_l = k + 2 * k * d;
    if (!j.grad) return gmm(d, k, j.n, &p[0], &p[o_mu], &p[o_q], L ? &p[o_l] : &p[0], j.x.data(), j.gamma, j.m);
    trace_on(1);
    vector<adouble> ap(p.size());
    for (size_t i = 0; i < p.size(); i++) ap[i] <<= p[i];
    adouble y = gmm(d, k, j.n, &ap[0], &ap[o_mu], &ap[o_q], L ? &ap[o_l] : &ap[0], j.x.data(), j.gamma, j.m);
    double yv;
    y >>= yv;
    trace_off();
    out.assign(p.size(), 0);
    gradient(1, (int)p.size(), p.data(), out.data());
    return yv;
}

// Wall-clock time, or with WENGERT_GB_CLOCK=cpu the thread's CPU time (as wengert-gradbench).
static long long now_ns()
{
    static const char *c = getenv("WENGERT_GB_CLOCK");
    struct timespec ts;
    clock_gettime(c && strcmp(c, "cpu") == 0 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main()
{
    std::string line;
    while (std::getline(std::cin, line)) {
        cJSON *msg = cJSON_Parse(line.c_str());
        if (!msg) return 2;
        int id = cJSON_GetObjectItem(msg, "id")->valueint;
        std::string kind = cJSON_GetObjectItem(msg, "kind")->valuestring;
        std::string resp = "{\"id\":" + std::to_string(id);
        if (kind == "start") {
            resp += ",\"tool\":\"adolc-bench\"}";
        } else if (kind == "define") {
            std::string mod = cJSON_GetObjectItem(msg, "module")->valuestring;
            resp += (mod == "det" || mod == "ode" || mod == "gmm" || mod == "ht") ? ",\"success\":true}" : ",\"success\":false}";
        } else if (kind == "evaluate") {
            std::string mod = cJSON_GetObjectItem(msg, "module")->valuestring;
            std::string fn = cJSON_GetObjectItem(msg, "function")->valuestring;
            cJSON *in = cJSON_GetObjectItem(msg, "input");
            bool grad = fn == "gradient" || fn == "jacobian";
            int min_runs = cJSON_GetObjectItem(in, "min_runs")->valueint;
            double min_s = cJSON_GetObjectItem(in, "min_seconds")->valuedouble;
            Job job = parse(mod, grad, in);
            vector<double> out;
            vector<long long> ns;
            double total = 0, val = 0;
            while ((int)ns.size() < min_runs || total < min_s * 1e9) {
                long long t0 = now_ns();
                val = run(job, out);
                long long dt = now_ns() - t0;
                ns.push_back(dt);
                total += dt;
            }
            char b[40];
            resp += ",\"success\":true,\"output\":";
            if (mod == "ode" || mod == "ht" || grad) {
                resp += "[";
                for (size_t i = 0; i < out.size(); i++) {
                    snprintf(b, sizeof b, "%s%.17g", i ? "," : "", out[i]);
                    resp += b;
                }
                resp += "]";
            } else {
                snprintf(b, sizeof b, "%.17g", val);
                resp += b;
            }
            resp += ",\"timings\":[";
            for (size_t i = 0; i < ns.size(); i++)
                resp += std::string(i ? "," : "") + "{\"name\":\"evaluate\",\"nanoseconds\":" + std::to_string(ns[i]) + "}";
            resp += "]}";
        } else {
            resp += "}";
        }
        cJSON_Delete(msg);
        std::cout << resp << std::endl;
    }
    return 0;
}
