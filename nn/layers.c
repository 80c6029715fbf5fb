/* layers.c: the dense layer and the multi-layer perceptron.
 *
 * A dense layer is one matmul that reads W [n_out, n_in] transposed through
 * strides (no copy) and one broadcast add of b: the two nodes PyTorch's
 * Linear also costs.  The MLP chains dense layers and activations and adds
 * the lecture's shortcut connections as extra matmuls into a later layer's
 * pre-activation.  All of it is recorded on the tape; nothing here computes
 * a gradient.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn_check.h"
#include "wg_nn.h"

/* ---- dense -------------------------------------------------------------- */

wg_dense *wg_dense_new(wg_dtype dt, int64_t n_in, int64_t n_out, bool bias)
{
    if (n_in < 1 || n_out < 1) {
        wg_set_last_error("dense_new: sizes must be >= 1: n_in = %lld, n_out = %lld", (long long)n_in,
                          (long long)n_out);
        return NULL;
    }
    wg_dense *l = calloc(1, sizeof *l);
    if (!l) {
        wg_set_last_error("dense_new: out of memory");
        return NULL;
    }
    l->n_in = n_in;
    l->n_out = n_out;
    l->W = wg_param_new(dt, 2, (int64_t[]){n_out, n_in});
    if (bias) l->b = wg_param_new(dt, 1, (int64_t[]){n_out});
    if (!l->W || (bias && !l->b)) { /* wg_param_new has set the message */
        wg_dense_free(l);
        return NULL;
    }
    snprintf(l->W->name, sizeof l->W->name, "W");
    if (l->b) snprintf(l->b->name, sizeof l->b->name, "b");
    return l;
}

void wg_dense_free(wg_dense *l)
{
    if (!l) return;
    wg_param_free(l->W);
    wg_param_free(l->b);
    free(l);
}

int wg_dense_init(wg_dense *l, wg_init scheme, double arg, double bias, wg_rng *r)
{
    if (!l) {
        wg_set_last_error("dense_init: invalid handle: the layer is NULL");
        return -1;
    }
    if (wg_init_param(l->W, scheme, arg, l->n_in, r) != 0) return -1;
    return l->b ? wg_init_constant(l->b, bias) : 0;
}

/* x W^T (+ b), without the argument checks (the MLP has done them). */
static wg_tensor *affine(wg_tape *t, wg_tensor *x, wg_param *W, wg_param *b)
{
    wg_tensor *z = wg_matmul_ex(t, x, wg_use(t, W), false, true);
    return b ? wg_add(t, z, wg_use(t, b)) : z;
}

wg_tensor *wg_dense_forward(wg_tape *t, wg_dense *l, wg_tensor *x)
{
    NN_CHECK1(t, "dense", x);
    if (!l) {
        wg_tape_fail(t, WG_ERR_HANDLE, "dense: invalid handle: the layer is NULL");
        return NULL;
    }
    char s[80];
    int nd = wg_ndim(x);
    if ((nd != 1 && nd != 2) || wg_dim(x, -1) != l->n_in) {
        wg_tape_fail(t, WG_ERR_SHAPE, "dense: want x [N,%lld] or [%lld]: x is %s", (long long)l->n_in,
                     (long long)l->n_in, wg_shape_str(x, s, sizeof s));
        return NULL;
    }
    if (nd == 1) { /* a single sample: [n_in] -> [1, n_in] -> [n_out] */
        wg_tensor *y = affine(t, wg_reshape(t, x, 2, (int64_t[]){1, l->n_in}), l->W, l->b);
        return wg_reshape(t, y, 1, &l->n_out);
    }
    return affine(t, x, l->W, l->b);
}

/* ---- MLP ---------------------------------------------------------------- */

void wg_mlp_free(wg_mlp *m)
{
    if (!m) return;
    if (m->layers)
        for (int l = 0; l < m->n_layers; l++) wg_dense_free(m->layers[l]);
    for (int s = 0; s < m->n_shortcuts; s++) wg_param_free(m->shortcuts[s].S);
    free(m->layers);
    free(m->shortcuts);
    free(m->sizes);
    free(m->params);
    free(m);
}

wg_mlp *wg_mlp_new(wg_dtype dt, int n_sizes, const int64_t *sizes, wg_act hidden, wg_act output, double alpha)
{
    if (!sizes) {
        wg_set_last_error("mlp_new: invalid handle: sizes is NULL");
        return NULL;
    }
    if (n_sizes < 2) {
        wg_set_last_error("mlp_new: need at least 2 sizes (inputs and outputs): got %d", n_sizes);
        return NULL;
    }
    for (int i = 0; i < n_sizes; i++)
        if (sizes[i] < 1) {
            wg_set_last_error("mlp_new: sizes[%d] = %lld: every layer needs >= 1 unit", i, (long long)sizes[i]);
            return NULL;
        }
    if ((unsigned)hidden >= WG_ACT_COUNT || (unsigned)output >= WG_ACT_COUNT) {
        wg_set_last_error("mlp_new: unknown activation: hidden %d, output %d", (int)hidden, (int)output);
        return NULL;
    }
    if (dt != WG_F32 && dt != WG_F64) {
        wg_set_last_error("mlp_new: unknown dtype %d", (int)dt);
        return NULL;
    }
    wg_mlp *m = calloc(1, sizeof *m);
    if (!m) goto oom;
    m->dtype = dt;
    m->n_layers = n_sizes - 1;
    m->hidden = hidden;
    m->output = output;
    m->alpha = alpha;
    m->sizes = malloc(sizeof(int64_t) * (size_t)n_sizes);
    m->layers = calloc((size_t)m->n_layers, sizeof *m->layers);
    m->params = calloc(2 * (size_t)m->n_layers, sizeof *m->params);
    if (!m->sizes || !m->layers || !m->params) goto oom;
    memcpy(m->sizes, sizes, sizeof(int64_t) * (size_t)n_sizes);
    for (int l = 0; l < m->n_layers; l++) {
        m->layers[l] = wg_dense_new(dt, sizes[l], sizes[l + 1], true);
        if (!m->layers[l]) { /* message set by wg_dense_new */
            wg_mlp_free(m);
            return NULL;
        }
        snprintf(m->layers[l]->W->name, sizeof m->layers[l]->W->name, "W%d", l + 1);
        snprintf(m->layers[l]->b->name, sizeof m->layers[l]->b->name, "b%d", l + 1);
        m->params[m->n_params++] = m->layers[l]->W;
        m->params[m->n_params++] = m->layers[l]->b;
    }
    return m;
oom:
    wg_mlp_free(m);
    wg_set_last_error("mlp_new: out of memory");
    return NULL;
}

int wg_mlp_add_shortcut(wg_mlp *m, int from, int to)
{
    if (!m) {
        wg_set_last_error("mlp_add_shortcut: invalid handle: the model is NULL");
        return -1;
    }
    if (from < 0 || to > m->n_layers || from >= to - 1) {
        wg_set_last_error("mlp_add_shortcut: want 0 <= from < to - 1 and to <= %d: from = %d, to = %d", m->n_layers,
                          from, to);
        return -1;
    }
    for (int s = 0; s < m->n_shortcuts; s++)
        if (m->shortcuts[s].from == from && m->shortcuts[s].to == to) {
            wg_set_last_error("mlp_add_shortcut: the shortcut %d -> %d exists already", from, to);
            return -1;
        }
    wg_shortcut *sc = realloc(m->shortcuts, sizeof *sc * (size_t)(m->n_shortcuts + 1));
    if (!sc) goto oom;
    m->shortcuts = sc;
    wg_param **ps = realloc(m->params, sizeof *ps * (m->n_params + 1));
    if (!ps) goto oom;
    m->params = ps;
    wg_param *S = wg_param_new(m->dtype, 2, (int64_t[]){m->sizes[to], m->sizes[from]});
    if (!S) return -1;
    snprintf(S->name, sizeof S->name, "S%d_%d", from, to);
    m->shortcuts[m->n_shortcuts++] = (wg_shortcut){from, to, S};
    m->params[m->n_params++] = S;
    return 0;
oom:
    wg_set_last_error("mlp_add_shortcut: out of memory");
    return -1;
}

int wg_mlp_init(wg_mlp *m, wg_init scheme, double arg, double bias, wg_rng *r)
{
    if (!m) {
        wg_set_last_error("mlp_init: invalid handle: the model is NULL");
        return -1;
    }
    for (int l = 0; l < m->n_layers; l++)
        if (wg_dense_init(m->layers[l], scheme, arg, bias, r) != 0) return -1;
    for (int s = 0; s < m->n_shortcuts; s++)
        if (wg_init_param(m->shortcuts[s].S, scheme, arg, m->sizes[m->shortcuts[s].from], r) != 0) return -1;
    return 0;
}

wg_tensor *wg_mlp_forward(wg_tape *t, wg_mlp *m, wg_tensor *x)
{
    NN_CHECK1(t, "mlp", x);
    if (!m) {
        wg_tape_fail(t, WG_ERR_HANDLE, "mlp: invalid handle: the model is NULL");
        return NULL;
    }
    char s[80];
    if (wg_ndim(x) != 2 || wg_dim(x, 1) != m->sizes[0]) {
        wg_tape_fail(t, WG_ERR_SHAPE, "mlp: want x [N,%lld]: x is %s", (long long)m->sizes[0],
                     wg_shape_str(x, s, sizeof s));
        return NULL;
    }
    if (wg_dtype_of(x) != m->dtype) {
        wg_tape_fail(t, WG_ERR_DTYPE, "mlp: dtype mismatch: the model is %s, x is %s",
                     m->dtype == WG_F32 ? "f32" : "f64", wg_shape_str(x, s, sizeof s));
        return NULL;
    }
    /* z[l] is layer l's output (z[0] = x); only kept while a shortcut needs it. */
    wg_tensor *zs_small[16], **z = zs_small;
    if (m->n_shortcuts && m->n_layers + 1 > 16) {
        z = malloc(sizeof *z * (size_t)(m->n_layers + 1));
        if (!z) {
            wg_tape_fail(t, WG_ERR_NOMEM, "mlp: out of memory");
            return NULL;
        }
    }
    wg_tensor *h = x;
    if (m->n_shortcuts) z[0] = x;
    for (int l = 1; l <= m->n_layers; l++) {
        wg_dense *d = m->layers[l - 1];
        wg_tensor *a = affine(t, h, d->W, d->b);
        for (int k = 0; k < m->n_shortcuts; k++)
            if (m->shortcuts[k].to == l)
                a = wg_add(t, a, wg_matmul_ex(t, z[m->shortcuts[k].from], wg_use(t, m->shortcuts[k].S), false, true));
        h = wg_nn_activate(t, a, l == m->n_layers ? m->output : m->hidden, m->alpha);
        if (m->n_shortcuts) z[l] = h;
    }
    if (z != zs_small) free(z);
    return h;
}

wg_param *const *wg_mlp_params(const wg_mlp *m, size_t *n)
{
    if (n) *n = m ? m->n_params : 0;
    return m ? m->params : NULL;
}

size_t wg_mlp_count(const wg_mlp *m)
{
    size_t total = 0;
    if (!m) return 0;
    for (size_t i = 0; i < m->n_params; i++) total += m->params[i]->numel;
    return total;
}

void wg_mlp_zero_grad(wg_mlp *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->n_params; i++) wg_param_zero_grad(m->params[i]);
}

void wg_mlp_summary(const wg_mlp *m, FILE *f)
{
    if (!f) f = stdout;
    if (!m) {
        fprintf(f, "(no model)\n");
        return;
    }
    size_t np = 0;
    fprintf(f, "MLP %s, %d layers, input %lld\n", m->dtype == WG_F32 ? "f32" : "f64", m->n_layers,
            (long long)m->sizes[0]);
    for (int l = 1; l <= m->n_layers; l++) {
        size_t c = (size_t)m->sizes[l] * (size_t)(m->sizes[l - 1] + 1);
        np += c;
        fprintf(f, "  layer %d: dense %lld -> %lld, %-11s %zu parameters\n", l, (long long)m->sizes[l - 1],
                (long long)m->sizes[l], wg_act_name(l == m->n_layers ? m->output : m->hidden), c);
    }
    size_t ns = 0;
    for (int k = 0; k < m->n_shortcuts; k++) {
        const wg_shortcut *sc = &m->shortcuts[k];
        ns += sc->S->numel;
        fprintf(f, "  shortcut %d -> %d: %lld -> %lld, %zu parameters\n", sc->from, sc->to,
                (long long)m->sizes[sc->from], (long long)m->sizes[sc->to], sc->S->numel);
    }
    fprintf(f, "N_p = sum_l M_l (M_{l-1} + 1) = %zu\n", np);
    if (m->n_shortcuts) fprintf(f, "with shortcuts: %zu parameters\n", np + ns);
}
