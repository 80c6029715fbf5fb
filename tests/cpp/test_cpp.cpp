// test_cpp: wengert.hpp, the C++ layer, with exceptions.
//
// - the lecture's example as it reads in C++: f = 124, df/dx1 = 44, df/dx2 = 66;
// - the operators and free functions record the same ops as the C calls,
//   numbers on either side (int, float, double), broadcasting as in C, and
//   their gradients agree with central differences (wg_gradcheck, f64);
// - wg_ops.h's C++ overloads: wg_add(t, 2.0, x), wg_pow(t, x, 2) is pow_c, ...;
// - an MLP trained on XOR through the layer (mlp, optimizer, nn::bce_logits);
// - errors: a bad matmul throws wg::error with the tape's exact message and
//   status; bad parameters, checkpoint and optimiser errors carry the C
//   API's messages;
// - higher order: grad of grad, backward_create_graph, forward mode at two
//   levels, hessian/jacobian/hvp on a graph and over a lambda, a custom op,
//   all against closed forms (and an exception thrown inside the lambda
//   comes out of the driver);
// - RAII: owners freed on early returns, exceptions and moves (the ASan pass
//   of scripts/test reports any leak).
#include <wengert.hpp>

#include <cmath>
#include <cstdio>
#include <string>
#include <utility>

#include "wg_test.h"

static void seed_example()
{
    wg::tape t;
    auto x1 = t.var(1), x2 = t.var(3);
    auto f = pow(2*x1 + 3*x2, 2) + 3; f.backward();
    CHECK(f.item() == 124, "f = %g", f.item());
    CHECK(x1.grad_item() == 44, "df/dx1 = %g", x1.grad_item());
    CHECK(x2.grad_item() == 66, "df/dx2 = %g", x2.grad_item());
    CHECK_STR(f.op_name(), "add");
    CHECK(t.error() == nullptr, "tape error %s", t.error());
}

static void operators()
{
    wg::tape t;
    wg::tensor x = t.var(2), y = t.var(3);
    struct {
        wg::tensor r;
        const char *op;
        double want;
    } cases[] = {
        {x + y, "add", 5},       {x - y, "sub", -1},      {x * y, "mul", 6},           {x / y, "div", 2.0 / 3},
        {x + 1, "add", 3},       {1.5 + x, "add", 3.5},   {x - 2.0f, "sub", 0},        {10 - x, "sub", 8},
        {x * 0.5, "mul", 1},     {4 * x, "mul", 8},       {x / 4, "div", 0.5},         {1 / x, "div", 0.5},
        {-x, "neg", -2},         {max(x, y), "max", 3},   {max(x, 0), "max", 2},       {min(1, x), "min", 1},
        {pow(x, 3), "pow_c", 8}, {pow(x, y), "pow", 8},   {pow(2, y), "pow", 8},       {exp(x), "exp", std::exp(2.0)},
        {log(x), "log", std::log(2.0)}, {log1p(x), "log1p", std::log1p(2.0)}, {sqrt(x), "sqrt", std::sqrt(2.0)},
        {tanh(x), "tanh", std::tanh(2.0)}, {abs(-x), "abs", 2}, {sign(-x), "sign", -1}, {step(x), "step", 1},
    };
    for (auto &c : cases) {
        CHECK(c.r, "%s: empty tensor", c.op);
        CHECK_STR(c.r.op_name(), c.op);
        CHECK_NEAR(c.r.item(), c.want, 1e-15);
    }
    // A number takes the dtype of the other operand, as in C.
    wg::tensor xf = t.scalar(WG_F32, 1.5, true);
    CHECK((2 * xf).dtype() == WG_F32, "2 * f32 is not f32");
    CHECK(pow(xf, 2).dtype() == WG_F32, "f32^2 is not f32");
    // Compound assignment rebinds to the new node.
    wg::tensor z = x;
    z += y;
    z *= 2;
    CHECK_NEAR(z.item(), 10, 0);
    // Broadcasting: [2,3] + [3] and reductions.
    wg::tensor a = t.make({2, 3}, {1, 2, 3, 4, 5, 6}, true), b = t.make({3}, {10, 20, 30}, true);
    wg::tensor s = sum(a + b);
    CHECK_NEAR(s.item(), 21 + 2 * 60, 0);
    CHECK((sum(a, 0).shape() == std::vector<int64_t>{3}), "sum over axis 0: %s", sum(a, 0).str().c_str());
    CHECK_NEAR(mean(a).item(), 3.5, 0);
    CHECK_NEAR(max_axis(a, 1).at(1), 6, 0);
    s.backward();
    CHECK_NEAR(b.grad_at(2), 2, 0); // summed over the broadcast axis
    CHECK_NEAR(a.grad_at(5), 1, 0);
    CHECK(matmul(a, transpose(a)).shape() == (std::vector<int64_t>{2, 2}), "a a^T shape");
    CHECK(matmul(a, a, false, true).shape() == (std::vector<int64_t>{2, 2}), "matmul_ex shape");
    CHECK(reshape(a, {3, 2}).dim(0) == 3, "reshape");
    CHECK(wg::concat({a, a}, 0).dim(0) == 4, "concat");
    CHECK(slice(a, 1, 1, 3).dim(1) == 2, "slice");
    CHECK(broadcast_to(b, {4, 3}).numel() == 12, "broadcast_to");
    CHECK(!detach(x).requires_grad(), "detach requires grad");
    CHECK(a.data<double>() && !a.data<float>(), "typed data access");
}

// wg_ops.h under C++: the macros' meaning through overloads.
static void c_overloads()
{
    wg::tape tt;
    wg_tape *t = tt.get();
    wg_tensor *x = wg_var(t, 2), *y = wg_var(t, 3);
    const wg_tensor *cx = x;
    CHECK_NEAR(wg_item(wg_add(t, 2.0, x)), 4, 0);
    CHECK_NEAR(wg_item(wg_add(t, x, 2)), 4, 0);
    CHECK_NEAR(wg_item(wg_add(t, x, 0)), 2, 0); // 0 is a number here, not a null pointer
    CHECK_NEAR(wg_item(wg_sub(t, 1.0f, x)), -1, 0);
    CHECK_NEAR(wg_item(wg_mul(t, cx, y)), 6, 0);
    CHECK_NEAR(wg_item(wg_div(t, 3, 2)), 1.5, 0);
    CHECK_NEAR(wg_item(wg_max(t, x, 5L)), 5, 0);
    CHECK_NEAR(wg_item(wg_min(t, 1u, x)), 1, 0);
    CHECK_STR(wg_op_name(wg_pow(t, x, 2)), "pow_c");
    CHECK_STR(wg_op_name(wg_pow(t, x, y)), "pow");
    CHECK_STR(wg_op_name(wg_pow(t, 2, y)), "pow");
    CHECK_NEAR(wg_item(wg_pow(t, cx, 0.5)), std::sqrt(2.0), 1e-15);
    wg_tensor *(*f)(wg_tape *, wg_tensor *, wg_tensor *) = &wg_add;
    CHECK_NEAR(wg_item(f(t, x, y)), 5, 0);
    f = &wg_pow;
    CHECK_STR(wg_op_name(f(t, x, y)), "pow");
}

// Gradients through the layer against central differences (f64): a
// broadcasting expression with every kind of operand.
static wg_tensor *expr(wg_tape *t, wg_tensor *const *in, void *)
{
    wg::tensor a(t, in[0]), b(t, in[1]), w(t, in[2]);
    wg::tensor h = tanh(matmul(a, w) + b);                          // [3,4]@[4,2] + [2]
    wg::tensor g = exp(-h * h / 2) * sqrt(1 + sum(a * a, 1, true)); // [3,2] * [3,1]
    wg::tensor u = log1p(abs(g)) + pow(max(h, -0.5) - min(h, 0.5), 2) + pow(2.0, h) / (3 - h);
    return (mean(u) + sum(log(1 + exp(w)))).get();
}

static void gradients()
{
    int64_t sa[] = {3, 4}, sb[] = {2}, sw[] = {4, 2};
    wg_param *ps[] = {wg_param_new(WG_F64, 2, sa), wg_param_new(WG_F64, 1, sb), wg_param_new(WG_F64, 2, sw)};
    wg::rng r(15);
    for (auto *p : ps)
        for (size_t i = 0; i < p->numel; i++) static_cast<double *>(p->data)[i] = r.uniform() * 2 - 1;
    wg_gradcheck_report rep;
    int ok = wg_gradcheck(expr, nullptr, 3, ps, nullptr, &rep);
    CHECK(ok == 1, "gradcheck through wengert.hpp: %s", rep.message);
    CHECK(rep.n_checked == 12 + 2 + 8, "checked %zu elements", rep.n_checked);
    for (auto *p : ps) wg_param_free(p);
}

// A 2-8-1 tanh MLP learns XOR through the layer.
static void xor_mlp()
{
    const double X[] = {0, 0, 0, 1, 1, 0, 1, 1}, Y[] = {0, 1, 1, 0};
    wg::mlp net(WG_F64, {2, 8, 1}, WG_ACT_TANH, WG_ACT_IDENTITY);
    wg::rng r(3);
    net.init(WG_INIT_XAVIER, 0, 0, r);
    wg::optimizer opt(WG_OPT_ADAM, 0.05, net.params());
    wg::tape t;
    double first = 0, last = 0;
    for (int i = 0; i < 300; i++) {
        t.reset();
        wg::tensor x = t.view(WG_F64, {4, 2}, X), y = t.view(WG_F64, {4, 1}, Y);
        wg::tensor loss = wg::nn::bce_logits(net(x), y);
        opt.zero_grad();
        loss.backward();
        opt.step();
        (i == 0 ? first : last) = loss.item();
    }
    t.reset();
    wg::tensor p = wg::nn::sigmoid(net(t.view(WG_F64, {4, 2}, X)));
    CHECK(last < 0.05 && last < first, "XOR loss %g (first %g)", last, first);
    for (int k = 0; k < 4; k++) CHECK((p.at(k) > 0.5) == (Y[k] > 0.5), "XOR sample %d: p = %g", k, p.at(k));
}

static void errors()
{
    wg::tape t;
    wg::tensor a = t.make(WG_F32, {2, 3}), b = t.make(WG_F32, {2, 3});
    bool thrown = false;
    try {
        wg::tensor c = matmul(a, b);
        CHECK(false, "matmul of [2,3] and [2,3] did not throw: %s", c.str().c_str());
    } catch (const wg::error &e) {
        thrown = true;
        CHECK_STR(e.what(), "matmul: inner dimensions differ: a is f32[2,3], b is f32[2,3]");
        CHECK_STR(e.what(), t.error());
        CHECK(e.status() == WG_ERR_SHAPE, "status %d", (int)e.status());
    }
    CHECK(thrown, "no wg::error");
    // The error stays on the tape (sticky, as in C) until reset.
    try {
        (void)(a + 1);
        CHECK(false, "an op after the error did not throw");
    } catch (const wg::error &e) {
        CHECK_STR(e.what(), "matmul: inner dimensions differ: a is f32[2,3], b is f32[2,3]");
    }
    t.reset();
    CHECK(t.error() == nullptr, "error after reset: %s", t.error());
    CHECK_NEAR((t.var(2) * 3).item(), 6, 0);

    // Backward of a non-scalar: the tape's message.
    try {
        t.make({2}, {1, 2}, true).backward();
        CHECK(false, "backward of a [2] tensor did not throw");
    } catch (const wg::error &e) {
        CHECK_STR(e.what(), t.error());
    }
    t.reset();

    // No tape to hold it: wg_last_error().
    try {
        wg::param p(WG_F32, {2, -1});
        CHECK(false, "a parameter of shape [2,-1] was made");
    } catch (const wg::error &e) {
        CHECK_STR(e.what(), "param_new: invalid dimension -1 at axis 1");
    }
    try {
        wg::checkpoint c;
        c.load("/nonexistent/wengert/run.safetensors");
        CHECK(false, "loading a missing file did not throw");
    } catch (const wg::error &e) {
        CHECK_STR(e.what(), "checkpoint /nonexistent/wengert/run.safetensors: cannot open: No such file or directory");
    }
    wg::param w(WG_F64, {2});
    wg::optimizer opt(WG_OPT_SGD, 0.1, {w.get()});
    w.grad<double>()[0] = NAN;
    try {
        opt.step();
        CHECK(false, "a step on a NaN gradient did not throw");
    } catch (const wg::error &e) {
        CHECK_STR(e.what(), "optim_step: non-finite gradient (norm nan): step skipped");
    }
    // An empty tensor (no tape) is an error, never a crash.
    try {
        (void)(wg::tensor() + 1);
        CHECK(false, "an op on an empty tensor did not throw");
    } catch (const wg::error &e) {
        CHECK(std::string(e.what()).find("tape is NULL") != std::string::npos, "message %s", e.what());
    }
}

// Everything the layer owns, made and then left by each path: return early,
// throw from an op, throw from a loader, or finish.  ASan's leak check sees
// whatever is not freed.
static int raii(int path, const char *dir)
{
    wg::tape t;
    wg::param p(WG_F32, {4, 3});
    p.set_name("p");
    wg::mlp net(WG_F32, {3, 5, 2});
    wg::rng r(1);
    net.init(WG_INIT_HE, 0, 0.01, r);
    wg::optimizer opt(WG_OPT_ADAMW, 1e-3, net.params());
    wg::checkpoint c;
    c.add(net.params());
    c.add(p);
    c.set_meta("step", 7);
    wg::early_stop es(net.params(), 2);
    wg::batcher batches(10, 4, true, false, 5);
    wg::dense layer(WG_F32, 3, 4);
    wg::tensor x = t.make(WG_F32, {2, 3});
    wg::tensor y = sum(net(x)) + sum(layer(x));
    if (path == 0) return 0;
    if (path == 1) (void)matmul(x, x); // throws
    if (path == 2) c.load(std::string(dir) + "/missing.safetensors"); // throws
    y.backward();
    opt.step();
    es.update(y.item());
    const size_t *idx;
    size_t n;
    while (batches.next(idx, n)) {}
    return 3;
}

static void ownership()
{
    CHECK(raii(0, "/nonexistent") == 0, "early return");
    for (int path = 1; path <= 2; path++) {
        bool thrown = false;
        try {
            raii(path, "/nonexistent");
        } catch (const wg::error &) {
            thrown = true;
        }
        CHECK(thrown, "path %d did not throw", path);
    }
    CHECK(raii(3, "/nonexistent") == 3, "full path");

    // Moves: the moved-from owner is empty; assignment frees what it held.
    wg::tape a;
    wg_tape *raw = a.get();
    wg::tape b(std::move(a));
    CHECK(!a && b.get() == raw, "move construction");
    CHECK(a.error() != nullptr, "a moved-from tape has no error to report");
    b = wg::tape(); // frees raw
    CHECK(b && b.get() != nullptr, "move assignment");
    wg::param p(WG_F64, {3});
    wg::param q;
    q = std::move(p);
    CHECK(!p && q.numel() == 3, "param move");
    wg_param *released = q.release();
    CHECK(!q && released, "release");
    wg_param_free(released);
}

// erf as a custom op: erf'(x) = 2/sqrt(pi) exp(-x^2), recorded (so erf'' works).
static int erf_fwd(void *, int, wg_tensor *const *x, wg_tensor *y, void *ydata)
{
    double *out = static_cast<double *>(ydata);
    for (std::size_t i = 0; i < wg_numel(y); i++) out[i] = std::erf(wg_get(x[0], i));
    return 0;
}
static void erf_vjp(void *, int, wg_tensor *const *x, const wg_tensor *, const void *gy, void *const *gx)
{
    const double *g = static_cast<const double *>(gy);
    double *d = static_cast<double *>(gx[0]);
    for (std::size_t i = 0; i < wg_numel(x[0]); i++) {
        double v = wg_get(x[0], i);
        d[i] += g[i] * 2 / std::sqrt(M_PI) * std::exp(-v * v);
    }
}
static wg_tensor *erf_vjp_ops(wg_tape *t, void *, int, wg_tensor *const *x, wg_tensor *, wg_tensor *gy, int)
{
    wg::tensor xt(t, x[0]), g(t, gy);
    return (g * (2 / std::sqrt(M_PI)) * exp(-(xt * xt))).get();
}

static void higher_order()
{
    wg::tape t;
    wg::tensor x = t.var(0.5), y = t.var(2);
    auto f = x * x * x * y + exp(x * y); // f_x = 3x^2 y + y e^{xy}, f_xx = 6xy + y^2 e^{xy}, f_xy = 3x^2 + (1+xy) e^{xy}
    const double e = std::exp(1.0);
    auto gs = wg::grad(f, {x, y}, true);
    CHECK_NEAR(gs[0].item(), 3 * 0.25 * 2 + 2 * e, 1e-14);
    auto gxx = wg::grad(gs[0], x);
    CHECK_NEAR(gxx.item(), 6 * 0.5 * 2 + 4 * e, 1e-13);
    auto H = wg::hessian(f, {x, y});
    CHECK(H.size() == 4, "hessian size %zu", H.size());
    CHECK_NEAR(H[1], 3 * 0.25 + 2 * e, 1e-13);
    CHECK_NEAR(H[2], H[1], 0);
    auto hv = wg::hvp(f, {x, y}, {t.scalar(WG_F64, 1), t.scalar(WG_F64, 0)});
    CHECK_NEAR(hv[0].item(), H[0], 1e-13);
    CHECK_NEAR(hv[1].item(), H[2], 1e-13);
    CHECK(wg::backward_create_graph(f), "backward_create_graph");
    CHECK_NEAR(wg::grad_tensor(x).item(), gs[0].item(), 0);
    CHECK_NEAR(x.grad_item(), gs[0].item(), 0);

    // forward mode, two levels: d2f/dxdy
    t.reset();
    x = t.var(0.5), y = t.var(2);
    CHECK(wg::set_tangent(x, t.scalar(WG_F64, 1), 0) && wg::set_tangent(y, t.scalar(WG_F64, 1), 1), "set_tangent");
    f = x * x * x * y + exp(x * y);
    CHECK_NEAR(wg::tangent(f).item(), 3 * 0.25 * 2 + 2 * e, 1e-14);
    CHECK_NEAR(wg::tangent(wg::tangent(f, 1), 0).item(), 3 * 0.25 + 2 * e, 1e-13);
    CHECK(!wg::tangent(t.var(1)), "a fresh leaf has a tangent");

    // Jacobian of a vector function, both modes, over a lambda on a parameter
    wg::param p(WG_F64, {2});
    p.data<double>()[0] = 0.5, p.data<double>()[1] = 2;
    auto fv = [](const std::vector<wg::tensor> &in) { return exp(in[0]) * sum(in[0]); };
    for (wg_ad_mode mode : {WG_MODE_REVERSE, WG_MODE_FORWARD}) {
        auto J = wg::jacobian(t, fv, {p.get()}, 2, mode);
        const double a = 0.5, b = 2, s = a + b;
        CHECK(J.size() == 4, "jacobian size %zu", J.size());
        CHECK_NEAR(J[0], std::exp(a) * (s + 1), 1e-13);
        CHECK_NEAR(J[1], std::exp(a), 1e-13);
        CHECK_NEAR(J[2], std::exp(b), 1e-13);
        CHECK_NEAR(J[3], std::exp(b) * (s + 1), 1e-12);
    }
    auto fs = [](const std::vector<wg::tensor> &in) { return sum(in[0] * in[0] * in[0]); };
    auto Hp = wg::hessian(t, fs, {p.get()});
    CHECK(Hp.size() == 4 && Hp[0] == 3 && Hp[3] == 12 && Hp[1] == 0, "hessian of sum x^3: %g %g %g", Hp[0], Hp[1],
          Hp[3]);
    auto hvp = wg::hvp(t, fs, {p.get()}, {1, 1}, WG_MODE_FORWARD);
    CHECK(hvp.size() == 2 && hvp[0] == 3 && hvp[1] == 12, "hvp of sum x^3");
    // an exception inside the lambda reaches the caller, after the C driver returned
    bool thrown = false;
    try {
        wg::hessian(t, [](const std::vector<wg::tensor> &in) { return matmul(in[0], in[0]); }, {p.get()});
    } catch (const wg::error &err) {
        thrown = true;
        CHECK_STR(err.what(), "matmul: operands must be 2-D or 3-D: a is f64[2], b is f64[2]");
    }
    CHECK(thrown, "the lambda's error was not thrown");

    // a custom op with a recorded VJP: erf' and erf''
    wg_custom_def d = {};
    d.name = "erf", d.n_inputs = 1, d.forward = erf_fwd, d.vjp = erf_vjp, d.vjp_ops = erf_vjp_ops;
    wg::custom_op erf(d);
    t.reset();
    x = t.var(0.3);
    auto ex = erf(x);
    CHECK_NEAR(ex.item(), std::erf(0.3), 1e-16);
    auto d1 = wg::grad(ex, x, true);
    CHECK_NEAR(d1.item(), 2 / std::sqrt(M_PI) * std::exp(-0.09), 1e-15);
    CHECK_NEAR(wg::grad(d1, x).item(), -2 * 0.3 * 2 / std::sqrt(M_PI) * std::exp(-0.09), 1e-15);
    try {
        wg::set_tangent(x, t.var(1), 7);
        CHECK(false, "level 7 did not throw");
    } catch (const wg::error &err) {
        CHECK_STR(err.what(), "set_tangent_at: level 7 is out of range: levels are 0..3");
    }
}

int main()
{
    seed_example();
    operators();
    c_overloads();
    gradients();
    xor_mlp();
    errors();
    ownership();
    higher_order();
    return wg_test_done("test_cpp");
}
