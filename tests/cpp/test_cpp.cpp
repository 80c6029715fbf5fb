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

int main()
{
    seed_example();
    operators();
    c_overloads();
    gradients();
    xor_mlp();
    errors();
    ownership();
    return wg_test_done("test_cpp");
}
