/* wengert.hpp: a thin, header-only C++ layer over the C API (C++17).
 *
 *     #include <wengert.hpp>
 *
 *     wg::tape t;
 *     wg::tensor x1 = t.var(1), x2 = t.var(3);
 *     auto f = pow(2*x1 + 3*x2, 2) + 3;
 *     f.backward();        // f.item() 124, x1.grad_item() 44, x2.grad_item() 66
 *
 * wg::tensor is a value type: a recorded node and its tape (two pointers),
 * copied freely, valid until its tape is reset or destroyed, exactly like the
 * C handle it wraps.  Its operators (+ - * / and unary -, with a plain number
 * on either side) and the free functions below (exp, log, tanh, pow, max,
 * sum, matmul, ...) record the same ops as the C calls, broadcast as in C,
 * and cost nothing more than those calls and one test of the result.
 *
 * Owners: wg::tape, wg::param, wg::dense, wg::mlp, wg::optimizer,
 * wg::checkpoint, wg::early_stop and wg::batcher own their C object, free it
 * in their destructor and are move-only.  get() gives the C pointer to mix
 * both APIs; release() gives up ownership.
 *
 * Errors: by default a failing call throws wg::error, whose what() is the
 * message the C API keeps ("matmul: inner dimensions differ: a is f32[2,3],
 * b is f32[2,3]" for an op: the tape's message, which stays on the tape
 * until reset; wg_last_error(), wg_checkpoint_error() for the calls that have
 * no tape).  Defining WG_NO_EXCEPTIONS before the include (or compiling
 * without exceptions) turns every throw off: a failed op returns an empty
 * tensor, every later op on it returns an empty tensor too, and the program
 * checks once with tape.error(), as in C; the calls that return bool return
 * false.  The two modes live in different inline namespaces, so translation
 * units compiled each way can share a program.
 */
#ifndef WENGERT_HPP
#define WENGERT_HPP

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "wengert.h"

#if !defined(WG_NO_EXCEPTIONS) && !defined(__cpp_exceptions) && !defined(__EXCEPTIONS)
#define WG_NO_EXCEPTIONS
#endif
#ifndef WG_NO_EXCEPTIONS
#include <exception>
#include <stdexcept>
#endif

#if defined(__GNUC__)
#define WG__LIKELY(c) __builtin_expect(!!(c), 1)
#define WG__COLD __attribute__((cold, noinline))
#else
#define WG__LIKELY(c) (c)
#define WG__COLD
#endif

namespace wg {
#ifdef WG_NO_EXCEPTIONS
inline namespace nothrow_v1 {
#else
inline namespace throw_v1 {
#endif

#ifndef WG_NO_EXCEPTIONS
/* The one exception type: what() is the C API's message, status() its code
 * (WG_ERR_SHAPE, ...; WG_ERR_ARG for loaders and optimisers). */
class error : public std::runtime_error {
public:
    error(const char *msg, wg_status st)
        : std::runtime_error(msg ? msg : "wengert: unknown error"), status_(st) {}
    wg_status status() const noexcept { return status_; }

private:
    wg_status status_;
};
#endif

namespace detail {
/* Throw the tape's error (or, with no tape, the thread's last error). */
WG__COLD inline void fail_tape(const wg_tape *t)
{
#ifndef WG_NO_EXCEPTIONS
    if (t && wg_tape_error(t)) throw error(wg_tape_error(t), wg_tape_status(t));
    throw error(wg_last_error(), t ? WG_ERR_ARG : WG_ERR_HANDLE);
#else
    (void)t;
#endif
}
WG__COLD inline void fail_msg(const char *msg, wg_status st)
{
#ifndef WG_NO_EXCEPTIONS
    throw error(msg, st);
#else
    (void)msg, (void)st;
#endif
}
template <typename N> using if_num = typename std::enable_if<std::is_arithmetic<N>::value, int>::type;
} // namespace detail

/* A shape: {2, 3}, or a std::vector<int64_t> (copied: at most WG_MAX_DIMS
 * values reach the C call; more make it fail with its message). */
class dims {
public:
    dims(std::initializer_list<int64_t> d) noexcept { set(d.begin(), d.size()); }
    dims(const std::vector<int64_t> &d) noexcept { set(d.data(), d.size()); }
    const int64_t *data() const noexcept { return v_; }
    int size() const noexcept { return n_; }

private:
    void set(const int64_t *p, std::size_t n) noexcept
    {
        n_ = n > WG_MAX_DIMS ? WG_MAX_DIMS + 1 : static_cast<int>(n);
        for (int i = 0; i < n_; i++) v_[i] = p[i];
    }
    int64_t v_[WG_MAX_DIMS + 1] = {0};
    int n_ = 0;
};

/* A recorded tensor: a node of a tape.  Empty (false) when default
 * constructed or when the op that made it failed without exceptions. */
class tensor {
public:
    tensor() noexcept = default;
    tensor(wg_tape *t, wg_tensor *x) noexcept : t_(t), x_(x) {}

    wg_tensor *get() const noexcept { return x_; }
    wg_tape *tape() const noexcept { return t_; }
    explicit operator bool() const noexcept { return x_ != nullptr; }

    wg_dtype dtype() const noexcept { return wg_dtype_of(x_); }
    int ndim() const noexcept { return wg_ndim(x_); }
    int64_t dim(int axis) const noexcept { return wg_dim(x_, axis); }
    std::vector<int64_t> shape() const
    {
        const int64_t *s = wg_shape(x_);
        return s ? std::vector<int64_t>(s, s + wg_ndim(x_)) : std::vector<int64_t>();
    }
    std::size_t numel() const noexcept { return wg_numel(x_); }
    bool requires_grad() const noexcept { return wg_requires_grad(x_); }
    /* "f32[2,3]" */
    std::string str() const
    {
        char buf[96];
        return wg_shape_str(x_, buf, sizeof buf);
    }
    const char *op_name() const noexcept { return wg_op_name(x_); }

    /* Values: element 0, element i, all of them (as doubles), or the raw
     * row-major array (nullptr if T is not the tensor's dtype). */
    double item() const noexcept { return wg_item(x_); }
    double at(std::size_t i) const noexcept { return wg_get(x_, i); }
    std::vector<double> values() const
    {
        std::vector<double> v(numel());
        for (std::size_t i = 0; i < v.size(); i++) v[i] = wg_get(x_, i);
        return v;
    }
    template <typename T> const T *data() const noexcept
    {
        return is<T>() ? static_cast<const T *>(wg_data(x_)) : nullptr;
    }
    /* Gradients from the latest backward (0 / empty / nullptr if none reached
     * this tensor). */
    double grad_item() const noexcept { return wg_grad_item(x_); }
    double grad_at(std::size_t i) const noexcept { return wg_grad_get(x_, i); }
    std::vector<double> grads() const
    {
        std::vector<double> g(numel());
        for (std::size_t i = 0; i < g.size(); i++) g[i] = wg_grad_get(x_, i);
        return g;
    }
    template <typename T> const T *grad_data() const noexcept
    {
        return is<T>() ? static_cast<const T *>(wg_grad(x_)) : nullptr;
    }

    /* wg_backward: gradients of this one-element tensor with respect to
     * everything recorded before it.  true, or an error (thrown, or false). */
    bool backward() const
    {
        if (WG__LIKELY(wg_backward(t_, x_) == 0)) return true;
        detail::fail_tape(t_);
        return false;
    }
    /* The same with an explicit cotangent of this tensor's shape. */
    bool backward(const tensor &seed) const
    {
        if (WG__LIKELY(wg_backward_seed(t_, x_, seed.x_) == 0)) return true;
        detail::fail_tape(t_);
        return false;
    }

private:
    template <typename T> bool is() const noexcept
    {
        return x_ && ((std::is_same<T, float>::value && dtype() == WG_F32) ||
                      (std::is_same<T, double>::value && dtype() == WG_F64));
    }
    wg_tape *t_ = nullptr;
    wg_tensor *x_ = nullptr;
};

namespace detail {
inline tensor wrap(wg_tape *t, wg_tensor *r)
{
    if (!WG__LIKELY(r != nullptr)) fail_tape(t);
    return tensor(t, r);
}
inline wg_tape *tape_of(const tensor &a, const tensor &b) noexcept { return a.tape() ? a.tape() : b.tape(); }
} // namespace detail

/* ---- arithmetic: tensors and numbers, broadcasting as in C ------------- */
#define WG__CXX_OPERATOR(op, fn)                                                                      \
    inline tensor operator op(const tensor &a, const tensor &b)                                       \
    {                                                                                                 \
        wg_tape *t = detail::tape_of(a, b);                                                           \
        return detail::wrap(t, fn(t, a.get(), b.get()));                                              \
    }                                                                                                 \
    template <typename N, detail::if_num<N> = 0> inline tensor operator op(const tensor &a, N b)      \
    {                                                                                                 \
        wg_tape *t = a.tape();                                                                        \
        return detail::wrap(t, fn(t, a.get(), wg_const(t, static_cast<double>(b))));                 \
    }                                                                                                 \
    template <typename N, detail::if_num<N> = 0> inline tensor operator op(N a, const tensor &b)      \
    {                                                                                                 \
        wg_tape *t = b.tape();                                                                        \
        wg_tensor *x = wg_const(t, static_cast<double>(a));                                           \
        return detail::wrap(t, fn(t, x, b.get()));                                                    \
    }                                                                                                 \
    inline tensor &operator op##=(tensor &a, const tensor &b) { return a = a op b; }                  \
    template <typename N, detail::if_num<N> = 0> inline tensor &operator op##=(tensor &a, N b)        \
    {                                                                                                 \
        return a = a op b;                                                                            \
    }
WG__CXX_OPERATOR(+, wg__add)
WG__CXX_OPERATOR(-, wg__sub)
WG__CXX_OPERATOR(*, wg__mul)
WG__CXX_OPERATOR(/, wg__div)
#undef WG__CXX_OPERATOR

inline tensor operator-(const tensor &x) { return detail::wrap(x.tape(), wg_neg(x.tape(), x.get())); }
inline tensor operator+(const tensor &x) { return x; }

/* max, min and pow of two operands, a number allowed on either side;
 * pow(x, c) with a number c records x^c (pow_c), pow(x, y) the general a^b. */
#define WG__CXX_BINARY(name, fn, num_fn)                                                              \
    inline tensor name(const tensor &a, const tensor &b)                                              \
    {                                                                                                 \
        wg_tape *t = detail::tape_of(a, b);                                                           \
        return detail::wrap(t, fn(t, a.get(), b.get()));                                              \
    }                                                                                                 \
    template <typename N, detail::if_num<N> = 0> inline tensor name(const tensor &a, N b)             \
    {                                                                                                 \
        wg_tape *t = a.tape();                                                                        \
        return detail::wrap(t, num_fn(t, a.get(), static_cast<double>(b)));                          \
    }                                                                                                 \
    template <typename N, detail::if_num<N> = 0> inline tensor name(N a, const tensor &b)             \
    {                                                                                                 \
        wg_tape *t = b.tape();                                                                        \
        wg_tensor *x = wg_const(t, static_cast<double>(a));                                           \
        return detail::wrap(t, fn(t, x, b.get()));                                                    \
    }
namespace detail {
inline wg_tensor *max_c(wg_tape *t, wg_tensor *a, double b) { return wg__max(t, a, wg_const(t, b)); }
inline wg_tensor *min_c(wg_tape *t, wg_tensor *a, double b) { return wg__min(t, a, wg_const(t, b)); }
} // namespace detail
WG__CXX_BINARY(max, wg__max, detail::max_c)
WG__CXX_BINARY(min, wg__min, detail::min_c)
WG__CXX_BINARY(pow, wg__pow, wg__pow_c)
#undef WG__CXX_BINARY

/* ---- unary ops and reductions ------------------------------------------ */
#define WG__CXX_UNARY(name, fn) \
    inline tensor name(const tensor &x) { return detail::wrap(x.tape(), fn(x.tape(), x.get())); }
WG__CXX_UNARY(neg, wg_neg)
WG__CXX_UNARY(exp, wg_exp)
WG__CXX_UNARY(log, wg_log)
WG__CXX_UNARY(log1p, wg_log1p)
WG__CXX_UNARY(sqrt, wg_sqrt)
WG__CXX_UNARY(tanh, wg_tanh)
WG__CXX_UNARY(sin, wg_sin)
WG__CXX_UNARY(cos, wg_cos)
WG__CXX_UNARY(abs, wg_abs)
WG__CXX_UNARY(sign, wg_sign)
WG__CXX_UNARY(step, wg_step)
WG__CXX_UNARY(sum, wg_sum)
WG__CXX_UNARY(mean, wg_mean)
WG__CXX_UNARY(detach, wg_detach)

/* Along one axis (negative counts from the end). */
inline tensor sum(const tensor &x, int axis, bool keepdim = false)
{
    return detail::wrap(x.tape(), wg_sum_axis(x.tape(), x.get(), axis, keepdim));
}
inline tensor mean(const tensor &x, int axis, bool keepdim = false)
{
    return detail::wrap(x.tape(), wg_mean_axis(x.tape(), x.get(), axis, keepdim));
}
/* The gradient goes to the first maximal element. */
inline tensor max_axis(const tensor &x, int axis, bool keepdim = false)
{
    return detail::wrap(x.tape(), wg_max_axis(x.tape(), x.get(), axis, keepdim));
}

/* ---- linear algebra and shape ------------------------------------------ */
inline tensor matmul(const tensor &a, const tensor &b, bool trans_a = false, bool trans_b = false)
{
    wg_tape *t = detail::tape_of(a, b);
    return detail::wrap(t, trans_a || trans_b ? wg_matmul_ex(t, a.get(), b.get(), trans_a, trans_b)
                                              : wg_matmul(t, a.get(), b.get()));
}
inline tensor transpose(const tensor &x, int axis0 = -2, int axis1 = -1)
{
    return detail::wrap(x.tape(), wg_transpose(x.tape(), x.get(), axis0, axis1));
}
inline tensor reshape(const tensor &x, dims shape)
{
    return detail::wrap(x.tape(), wg_reshape(x.tape(), x.get(), shape.size(), shape.data()));
}
inline tensor broadcast_to(const tensor &x, dims shape)
{
    return detail::wrap(x.tape(), wg_broadcast_to(x.tape(), x.get(), shape.size(), shape.data()));
}
inline tensor slice(const tensor &x, int axis, int64_t start, int64_t end)
{
    return detail::wrap(x.tape(), wg_slice(x.tape(), x.get(), axis, start, end));
}
inline tensor concat(const std::vector<tensor> &xs, int axis)
{
    std::vector<wg_tensor *> raw(xs.size());
    wg_tape *t = nullptr;
    for (std::size_t i = 0; i < xs.size(); i++) {
        raw[i] = xs[i].get();
        if (!t) t = xs[i].tape();
    }
    return detail::wrap(t, wg_concat(t, static_cast<int>(raw.size()), raw.data(), axis));
}

/* ---- owners ------------------------------------------------------------- */

/* The owners share this shape: one C pointer, freed once, moved not copied. */
template <typename T, void (*Free)(T *)> class owner {
public:
    owner() noexcept = default;
    explicit owner(T *p) noexcept : p_(p) {}
    ~owner()
    {
        if (p_) Free(p_);
    }
    owner(owner &&o) noexcept : p_(o.release()) {}
    owner &operator=(owner &&o) noexcept
    {
        if (this != &o) {
            if (p_) Free(p_);
            p_ = o.release();
        }
        return *this;
    }
    owner(const owner &) = delete;
    owner &operator=(const owner &) = delete;

    T *get() const noexcept { return p_; }
    T *operator->() const noexcept { return p_; }
    explicit operator bool() const noexcept { return p_ != nullptr; }
    T *release() noexcept
    {
        T *p = p_;
        p_ = nullptr;
        return p;
    }

protected:
    T *p_ = nullptr;
};

class param;

/* A tape (wg_tape_new / wg_tape_free).  Records leaves; its ops are the
 * tensor operators and functions above. */
class tape : public owner<wg_tape, wg_tape_free> {
public:
    tape() : owner(wg_tape_new())
    {
        if (!p_) detail::fail_msg("tape: out of memory", WG_ERR_NOMEM);
    }
    /* The arena capped at max_bytes (0 = no cap). */
    explicit tape(std::size_t max_bytes) : owner(wg_tape_new_limited(max_bytes))
    {
        if (!p_) detail::fail_msg("tape: out of memory", WG_ERR_NOMEM);
    }

    /* Forget every node (their tensors become invalid) and the error. */
    void reset() noexcept { wg_tape_reset(p_); }
    /* nullptr, or the first error: "op: problem: operands". */
    const char *error() const noexcept { return p_ ? wg_tape_error(p_) : "tape: moved from"; }
    wg_status status() const noexcept { return wg_tape_status(p_); }
    std::size_t nodes() const noexcept { return wg_tape_nodes(p_); }
    std::size_t bytes_used() const noexcept { return wg_tape_bytes_used(p_); }
    std::size_t capacity() const noexcept { return wg_tape_capacity(p_); }
    void set_anomaly(bool on) noexcept { wg_tape_set_anomaly(p_, on); }
    void zero_grad() noexcept { wg_tape_zero_grad(p_); }

    /* Leaves, as wg_var, wg_const, wg_scalar, wg_tensor_new (data nullptr:
     * zeros), wg_tensor_view (data read in place until reset), wg_full. */
    tensor var(double v) const { return detail::wrap(p_, wg_var(p_, v)); }
    tensor constant(double v) const { return detail::wrap(p_, wg_const(p_, v)); }
    tensor scalar(wg_dtype dt, double v, bool requires_grad = false) const
    {
        return detail::wrap(p_, wg_scalar(p_, dt, v, requires_grad));
    }
    tensor make(wg_dtype dt, dims shape, const void *data = nullptr, bool requires_grad = false) const
    {
        return detail::wrap(p_, wg_tensor_new(p_, dt, shape.size(), shape.data(), data, requires_grad));
    }
    tensor make(dims shape, const std::vector<double> &values, bool requires_grad = false) const
    {
        return make(WG_F64, shape, values.data(), requires_grad);
    }
    tensor view(wg_dtype dt, dims shape, const void *data) const
    {
        return detail::wrap(p_, wg_tensor_view(p_, dt, shape.size(), shape.data(), data));
    }
    tensor full(wg_dtype dt, dims shape, double v) const
    {
        return detail::wrap(p_, wg_full(p_, dt, shape.size(), shape.data(), v));
    }
    /* A parameter as a leaf whose gradient lands in its grad buffer. */
    tensor use(wg_param *p) const { return detail::wrap(p_, wg_use(p_, p)); }
    inline tensor use(const param &p) const;
};

/* A parameter (wg_param_new / wg_param_free): values and gradient that
 * outlive tapes. */
class param : public owner<wg_param, wg_param_free> {
public:
    param() noexcept = default;
    explicit param(wg_param *p) noexcept : owner(p) {}
    param(wg_dtype dt, dims shape) : owner(wg_param_new(dt, shape.size(), shape.data()))
    {
        if (!p_) detail::fail_msg(wg_last_error(), WG_ERR_ARG);
    }
    std::size_t numel() const noexcept { return p_ ? p_->numel : 0; }
    wg_dtype dtype() const noexcept { return p_ ? p_->dtype : WG_F32; }
    template <typename T> T *data() const noexcept { return typed<T>(p_ ? p_->data : nullptr); }
    template <typename T> T *grad() const noexcept { return typed<T>(p_ ? p_->grad : nullptr); }
    void zero_grad() noexcept { wg_param_zero_grad(p_); }
    /* The name a checkpoint stores it under (up to 47 bytes). */
    void set_name(const char *name) noexcept
    {
        if (p_) std::snprintf(p_->name, sizeof p_->name, "%s", name);
    }

private:
    template <typename T> T *typed(void *v) const noexcept
    {
        bool ok = p_ && ((std::is_same<T, float>::value && p_->dtype == WG_F32) ||
                         (std::is_same<T, double>::value && p_->dtype == WG_F64));
        return ok ? static_cast<T *>(v) : nullptr;
    }
};

inline tensor tape::use(const param &p) const { return use(p.get()); }

/* A list of parameters (for optimisers, checkpoints, penalties): the
 * pointers are copied, the parameters borrowed. */
class param_list {
public:
    param_list(wg_param *const *p, std::size_t n) : v_(p, p + n) {}
    param_list(std::vector<wg_param *> v) noexcept : v_(std::move(v)) {}
    param_list(std::initializer_list<wg_param *> v) : v_(v) {}
    wg_param *const *data() const noexcept { return v_.data(); }
    std::size_t size() const noexcept { return v_.size(); }
    wg_param *const *begin() const noexcept { return v_.data(); }
    wg_param *const *end() const noexcept { return v_.data() + v_.size(); }

private:
    std::vector<wg_param *> v_;
};

/* xoshiro256** (wg_rng): a plain value, seeded. */
class rng {
public:
    explicit rng(uint64_t seed) noexcept { wg_rng_seed(&r_, seed); }
    uint64_t next() noexcept { return wg_rng_next(&r_); }
    double uniform() noexcept { return wg_rng_uniform(&r_); }
    double normal() noexcept { return wg_rng_normal(&r_); }
    uint64_t below(uint64_t n) noexcept { return wg_rng_below(&r_, n); }
    wg_rng *get() noexcept { return &r_; }

private:
    wg_rng r_;
};

/* A dense layer y = x W^T + b (wg_dense). */
class dense : public owner<wg_dense, wg_dense_free> {
public:
    dense(wg_dtype dt, int64_t n_in, int64_t n_out, bool bias = true) : owner(wg_dense_new(dt, n_in, n_out, bias))
    {
        if (!p_) detail::fail_msg(wg_last_error(), WG_ERR_ARG);
    }
    bool init(wg_init scheme, double arg, double bias, rng &r)
    {
        if (wg_dense_init(p_, scheme, arg, bias, r.get()) == 0) return true;
        detail::fail_msg(wg_last_error(), WG_ERR_ARG);
        return false;
    }
    tensor operator()(const tensor &x) const { return detail::wrap(x.tape(), wg_dense_forward(x.tape(), p_, x.get())); }
};

/* A multi-layer perceptron (wg_mlp): sizes {inputs, hidden..., outputs}. */
class mlp : public owner<wg_mlp, wg_mlp_free> {
public:
    mlp(wg_dtype dt, const std::vector<int64_t> &sizes, wg_act hidden = WG_ACT_RELU,
        wg_act output = WG_ACT_IDENTITY, double alpha = WG_ACT_DEFAULT_ALPHA)
        : owner(wg_mlp_new(dt, static_cast<int>(sizes.size()), sizes.data(), hidden, output, alpha))
    {
        if (!p_) detail::fail_msg(wg_last_error(), WG_ERR_ARG);
    }
    bool init(wg_init scheme, double arg, double bias, rng &r)
    {
        if (wg_mlp_init(p_, scheme, arg, bias, r.get()) == 0) return true;
        detail::fail_msg(wg_last_error(), WG_ERR_ARG);
        return false;
    }
    bool add_shortcut(int from, int to)
    {
        if (wg_mlp_add_shortcut(p_, from, to) == 0) return true;
        detail::fail_msg(wg_last_error(), WG_ERR_ARG);
        return false;
    }
    /* x [N, M_0] -> [N, M_L]. */
    tensor operator()(const tensor &x) const { return detail::wrap(x.tape(), wg_mlp_forward(x.tape(), p_, x.get())); }
    param_list params() const noexcept
    {
        std::size_t n = 0;
        wg_param *const *ps = wg_mlp_params(p_, &n);
        return param_list(ps, n);
    }
    std::size_t count() const noexcept { return wg_mlp_count(p_); }
    void zero_grad() noexcept { wg_mlp_zero_grad(p_); }
    void summary(FILE *f = nullptr) const { wg_mlp_summary(p_, f); }
};

/* An optimiser over a parameter list (wg_optim); the parameters are
 * borrowed and must outlive it. */
class optimizer : public owner<wg_optim, wg_optim_free> {
public:
    optimizer(const wg_optim_config &cfg, const param_list &ps) : owner(wg_optim_new(&cfg, ps.size(), ps.data()))
    {
        if (!p_) detail::fail_msg(wg_last_error(), WG_ERR_ARG);
    }
    /* kind's defaults with the given learning rate. */
    optimizer(wg_opt_kind kind, double lr, const param_list &ps) : optimizer(config(kind, lr), ps) {}
    /* One step (cfg.lr, or lr from a schedule).  A non-finite gradient is an
     * error and changes nothing. */
    bool step()
    {
        if (wg_optim_step(p_) == 0) return true;
        detail::fail_msg(wg_last_error(), WG_ERR_ARG);
        return false;
    }
    bool step(double lr)
    {
        if (wg_optim_step_lr(p_, lr) == 0) return true;
        detail::fail_msg(wg_last_error(), WG_ERR_ARG);
        return false;
    }
    void zero_grad() noexcept { wg_optim_zero_grad(p_); }
    void reset() noexcept { wg_optim_reset(p_); }

private:
    static wg_optim_config config(wg_opt_kind kind, double lr) noexcept
    {
        wg_optim_config c = wg_optim_defaults(kind);
        c.lr = lr;
        return c;
    }
};

/* Early stopping on a validation loss (wg_early_stop); keeps the best
 * parameters. */
class early_stop : public owner<wg_early_stop, wg_early_stop_free> {
public:
    early_stop(const param_list &ps, int patience, double min_delta = 0)
        : owner(wg_early_stop_new(ps.size(), ps.data(), patience, min_delta))
    {
        if (!p_) detail::fail_msg(wg_last_error(), WG_ERR_ARG);
    }
    /* true once training should stop. */
    bool update(double val_loss) noexcept { return wg_early_stop_update(p_, val_loss); }
    bool restore()
    {
        if (wg_early_stop_restore(p_) == 0) return true;
        detail::fail_msg(wg_last_error(), WG_ERR_ARG);
        return false;
    }
    double best() const noexcept { return p_->best; }
    int64_t best_epoch() const noexcept { return p_->best_epoch; }
};

namespace detail {
inline void batcher_free(wg_batcher *b)
{
    if (b) wg_batcher_free(b);
    delete b;
}
inline void checkpoint_free(wg_checkpoint *c) { wg_checkpoint_free(c); }
} // namespace detail

/* Seeded mini-batches of sample indices (wg_batcher). */
class batcher : public owner<wg_batcher, detail::batcher_free> {
public:
    batcher(std::size_t n, std::size_t batch_size, bool shuffle = true, bool drop_last = false, uint64_t seed = 0)
        : owner(new wg_batcher())
    {
        if (wg_batcher_init(p_, n, batch_size, shuffle, drop_last, seed) != 0) {
            delete release();
            detail::fail_msg(wg_last_error(), WG_ERR_ARG);
        }
    }
    /* The next batch's indices; false at the end of an epoch. */
    bool next(const std::size_t *&idx, std::size_t &count) noexcept { return wg_batcher_next(p_, &idx, &count); }
};

/* A checkpoint list (wg_checkpoint): arrays stay the caller's. */
class checkpoint : public owner<wg_checkpoint, detail::checkpoint_free> {
public:
    checkpoint() : owner(wg_checkpoint_new())
    {
        if (!p_) detail::fail_msg(wg_checkpoint_error(nullptr), WG_ERR_NOMEM);
    }
    bool add(const char *name, wg_dtype dt, dims shape, void *data)
    {
        return ok(wg_checkpoint_add(p_, name, dt, shape.size(), shape.data(), data));
    }
    bool add(const param &p) { return ok(wg_checkpoint_add_param(p_, p.get())); }
    bool add(const param_list &ps) { return ok(wg_checkpoint_add_params(p_, static_cast<int>(ps.size()), ps.data())); }
    bool set_meta(const char *key, const char *value) { return ok(wg_checkpoint_set_meta(p_, key, value)); }
    bool set_meta(const char *key, const std::string &value) { return set_meta(key, value.c_str()); }
    bool set_meta(const char *key, int64_t v) { return ok(wg_checkpoint_set_meta_i64(p_, key, v)); }
    bool set_meta(const char *key, int v) { return set_meta(key, static_cast<int64_t>(v)); }
    bool set_meta(const char *key, double v) { return ok(wg_checkpoint_set_meta_f64(p_, key, v)); }
    /* nullptr if there is no such key. */
    const char *meta(const char *key) const noexcept { return wg_checkpoint_meta(p_, key); }
    bool meta(const char *key, int64_t &out) { return ok(wg_checkpoint_meta_i64(p_, key, &out)); }
    bool meta(const char *key, double &out) { return ok(wg_checkpoint_meta_f64(p_, key, &out)); }
    bool save(const char *path) { return ok(wg_checkpoint_save(p_, path)); }
    bool save(const std::string &path) { return save(path.c_str()); }
    bool load(const char *path) { return ok(wg_checkpoint_load(p_, path)); }
    bool load(const std::string &path) { return load(path.c_str()); }
    bool load_buffer(const void *bytes, std::size_t len, const char *name)
    {
        return ok(wg_checkpoint_load_buffer(p_, bytes, len, name));
    }
    /* The last call's error, or nullptr. */
    const char *error() const noexcept { return wg_checkpoint_error(p_); }

private:
    bool ok(int rc)
    {
        if (rc == 0) return true;
        detail::fail_msg(wg_checkpoint_error(p_), WG_ERR_ARG);
        return false;
    }
};

/* ---- higher order (wg_higher.h) ------------------------------------------ */

namespace detail {
inline std::vector<wg_tensor *> raw(const std::vector<tensor> &xs)
{
    std::vector<wg_tensor *> r(xs.size());
    for (std::size_t i = 0; i < xs.size(); i++) r[i] = xs[i].get();
    return r;
}
/* The elements of the inputs (tensors or parameters) together. */
inline std::size_t numel_of(const std::vector<tensor> &xs)
{
    std::size_t n = 0;
    for (const tensor &x : xs) n += x.numel();
    return n;
}
inline std::size_t numel_of(const param_list &ps)
{
    std::size_t n = 0;
    for (wg_param *p : ps) n += p ? p->numel : 0;
    return n;
}
inline bool check(wg_tape *t, int rc)
{
    if (WG__LIKELY(rc == 0)) return true;
    fail_tape(t);
    return false;
}
} // namespace detail

/* torch.autograd.grad: the gradients of out with respect to xs, as tensors
 * on out's tape (wg_grad_of).  seed: out's cotangent (empty: 1, for a
 * one-element out).  With create_graph they are recorded and can be
 * differentiated again.  Leaf and parameter .grad buffers are untouched.
 * Without exceptions, a failure gives empty tensors. */
inline std::vector<tensor> grad(const tensor &out, const std::vector<tensor> &xs, const tensor &seed,
                                bool create_graph = false)
{
    wg_tape *t = out.tape();
    std::vector<wg_tensor *> in = detail::raw(xs), g(xs.size(), nullptr);
    int rc = wg_grad_of(t, out.get(), seed.get(), static_cast<int>(in.size()), in.data(), g.data(), create_graph);
    std::vector<tensor> r(xs.size());
    if (detail::check(t, rc))
        for (std::size_t i = 0; i < g.size(); i++) r[i] = tensor(t, g[i]);
    return r;
}
inline std::vector<tensor> grad(const tensor &out, const std::vector<tensor> &xs, bool create_graph = false)
{
    return grad(out, xs, tensor(), create_graph);
}
/* One input's gradient: grad(f, x, true) is df/dx, recorded. */
inline tensor grad(const tensor &out, const tensor &x, bool create_graph = false)
{
    return grad(out, std::vector<tensor>{x}, tensor(), create_graph)[0];
}

/* backward(create_graph=True) (wg_backward_ex): leaf .grad buffers
 * accumulate as with backward(), and grad_tensor(x) is a leaf's gradient as
 * a differentiable tensor.  seed: empty for a one-element out. */
inline bool backward_create_graph(const tensor &out, const tensor &seed = tensor())
{
    return detail::check(out.tape(), wg_backward_ex(out.tape(), out.get(), seed.get(), WG_CREATE_GRAPH));
}
/* A leaf's recorded gradient; empty if no create-graph backward reached it. */
inline tensor grad_tensor(const tensor &x) noexcept { return tensor(x.tape(), wg_grad_tensor(x.get())); }

/* Forward mode (wg_set_tangent_at): tangent tx of x at a nesting level (0,
 * the outermost, is wg_set_tangent's).  Every op recorded afterwards that
 * depends on x computes its tangent. */
inline bool set_tangent(const tensor &x, const tensor &tx, int level = 0)
{
    return detail::check(x.tape(), wg_set_tangent_at(x.tape(), level, x.get(), tx.get()));
}
/* x's tangent at a level: a tensor, or an empty one for a zero tangent (an
 * error throws, or leaves it on the tape without exceptions). */
inline tensor tangent(const tensor &x, int level = 0)
{
    wg_tensor *r = wg_tangent_at(x.get(), level);
    if (!r && x.tape() && wg_tape_error(x.tape())) detail::fail_tape(x.tape());
    return tensor(x.tape(), r);
}

/* On a recorded graph, row-major f64 (wg_hessian_of, wg_jacobian_of): the
 * Hessian of a one-element out, N x N, and out's Jacobian, M x N, where N
 * counts the elements of xs and M those of out.  Empty on failure without
 * exceptions. */
inline std::vector<double> hessian(const tensor &out, const std::vector<tensor> &xs)
{
    const std::size_t n = detail::numel_of(xs);
    std::vector<wg_tensor *> in = detail::raw(xs);
    std::vector<double> h(n * n);
    if (!detail::check(out.tape(), wg_hessian_of(out.tape(), out.get(), static_cast<int>(in.size()), in.data(),
                                                 h.data())))
        h.clear();
    return h;
}
inline std::vector<double> jacobian(const tensor &out, const std::vector<tensor> &xs)
{
    const std::size_t n = detail::numel_of(xs);
    std::vector<wg_tensor *> in = detail::raw(xs);
    std::vector<double> j(out.numel() * n);
    if (!detail::check(out.tape(), wg_jacobian_of(out.tape(), out.get(), static_cast<int>(in.size()), in.data(),
                                                  j.data())))
        j.clear();
    return j;
}
/* Hessian-vector products of a one-element out (wg_hvp_of): one tensor per
 * input, v[i] shaped like xs[i]. */
inline std::vector<tensor> hvp(const tensor &out, const std::vector<tensor> &xs, const std::vector<tensor> &v)
{
    wg_tape *t = out.tape();
    std::vector<wg_tensor *> in = detail::raw(xs), vv = detail::raw(v), hv(xs.size(), nullptr);
    std::vector<tensor> r(xs.size());
    if (v.size() != xs.size()) {
        detail::fail_msg("hvp: needs one direction per input", WG_ERR_ARG);
        return r;
    }
    if (detail::check(t, wg_hvp_of(t, out.get(), static_cast<int>(in.size()), in.data(), vv.data(), hv.data())))
        for (std::size_t i = 0; i < hv.size(); i++) r[i] = tensor(t, hv[i]);
    return r;
}

namespace detail {
/* A C++ callable as a wg_fn: f(const std::vector<tensor> &) -> tensor.  An
 * exception inside f is caught here (it must not cross the C frames) and
 * rethrown once the C call has returned. */
template <typename F> struct fn_ctx {
    fn_ctx(F *fn, const param_list &ps) : f(fn), n(static_cast<int>(ps.size())) {}
    F *f;
    int n;
#ifndef WG_NO_EXCEPTIONS
    std::exception_ptr err;
#endif
    static wg_tensor *call(wg_tape *t, wg_tensor *const *in, void *vctx)
    {
        fn_ctx *c = static_cast<fn_ctx *>(vctx);
        std::vector<tensor> xs(static_cast<std::size_t>(c->n));
        for (int i = 0; i < c->n; i++) xs[static_cast<std::size_t>(i)] = tensor(t, in[i]);
#ifndef WG_NO_EXCEPTIONS
        try {
            return (*c->f)(static_cast<const std::vector<tensor> &>(xs)).get();
        } catch (...) {
            c->err = std::current_exception();
            return nullptr;
        }
#else
        return (*c->f)(static_cast<const std::vector<tensor> &>(xs)).get();
#endif
    }
    bool done(wg_tape *t, int rc)
    {
#ifndef WG_NO_EXCEPTIONS
        if (err) std::rethrow_exception(err);
#endif
        return check(t, rc);
    }
};
} // namespace detail

/* Drivers over a function of parameters (wg_hessian, wg_jacobian, wg_hvp):
 * f records its output from one leaf per parameter, given in order, e.g.
 * [&](const std::vector<wg::tensor> &x) { return sum(x[0] * x[0]); }.  The
 * driver resets t and records on it; the parameters' values and gradients
 * are left as they were.  Row-major f64 results; empty on failure without
 * exceptions.  m: f's output size. */
template <typename F> std::vector<double> hessian(tape &t, F f, const param_list &ps)
{
    const std::size_t n = detail::numel_of(ps);
    std::vector<double> h(n * n);
    detail::fn_ctx<F> c(&f, ps);
    if (!c.done(t.get(), wg_hessian(t.get(), c.call, &c, static_cast<int>(ps.size()), ps.data(), h.data()))) h.clear();
    return h;
}
template <typename F>
std::vector<double> jacobian(tape &t, F f, const param_list &ps, std::size_t m, wg_ad_mode mode = WG_MODE_REVERSE)
{
    const std::size_t n = detail::numel_of(ps);
    std::vector<double> j(m * n);
    detail::fn_ctx<F> c(&f, ps);
    if (!c.done(t.get(), wg_jacobian(t.get(), c.call, &c, static_cast<int>(ps.size()), ps.data(), mode, m, j.data())))
        j.clear();
    return j;
}
template <typename F>
std::vector<double> hvp(tape &t, F f, const param_list &ps, const std::vector<double> &v,
                        wg_ad_mode mode = WG_MODE_REVERSE)
{
    const std::size_t n = detail::numel_of(ps);
    std::vector<double> hv(n);
    if (v.size() != n) {
        detail::fail_msg("hvp: v needs one value per parameter element", WG_ERR_ARG);
        return std::vector<double>();
    }
    detail::fn_ctx<F> c(&f, ps);
    if (!c.done(t.get(), wg_hvp(t.get(), c.call, &c, static_cast<int>(ps.size()), ps.data(), v.data(), hv.data(), mode)))
        hv.clear();
    return hv;
}

/* A user's op (wg_custom_register), recorded like a primitive: owns the
 * registration; call it on tensors.  Free it (destroy it) only after every
 * tape that recorded it was reset or destroyed. */
class custom_op : public owner<wg_custom_op, wg_custom_free> {
public:
    explicit custom_op(const wg_custom_def &def) : owner(wg_custom_register(&def))
    {
        if (!p_) detail::fail_msg(wg_last_error(), WG_ERR_ARG);
    }
    tensor operator()(const std::vector<tensor> &xs) const
    {
        std::vector<wg_tensor *> in = detail::raw(xs);
        wg_tape *t = nullptr;
        for (const tensor &x : xs)
            if (!t) t = x.tape();
        return detail::wrap(t, wg_custom(t, p_, static_cast<int>(in.size()), in.data()));
    }
    template <typename... X> tensor operator()(const tensor &x, const X &...more) const
    {
        return (*this)(std::vector<tensor>{x, more...});
    }
};

/* ---- nn/: activations, losses (wg_nn.h) -------------------------------- */
namespace nn {
#define WG__CXX_NN1(name) \
    inline tensor name(const tensor &x) { return detail::wrap(x.tape(), wg_nn_##name(x.tape(), x.get())); }
WG__CXX_NN1(identity)
WG__CXX_NN1(step)
WG__CXX_NN1(sign)
WG__CXX_NN1(sigmoid)
WG__CXX_NN1(tanh)
WG__CXX_NN1(relu)
WG__CXX_NN1(silu)
WG__CXX_NN1(softsign)
WG__CXX_NN1(softplus)
#undef WG__CXX_NN1
inline tensor linear(const tensor &x, double alpha) { return detail::wrap(x.tape(), wg_nn_linear(x.tape(), x.get(), alpha)); }
inline tensor leaky_relu(const tensor &x, double alpha = WG_NN_LEAKY_ALPHA)
{
    return detail::wrap(x.tape(), wg_nn_leaky_relu(x.tape(), x.get(), alpha));
}
inline tensor prelu(const tensor &x, const tensor &alpha)
{
    return detail::wrap(x.tape(), wg_nn_prelu(x.tape(), x.get(), alpha.get()));
}
inline tensor elu(const tensor &x, double alpha = 1.0) { return detail::wrap(x.tape(), wg_nn_elu(x.tape(), x.get(), alpha)); }
inline tensor swish(const tensor &x, const tensor &beta)
{
    return detail::wrap(x.tape(), wg_nn_swish(x.tape(), x.get(), beta.get()));
}
inline tensor maxout(const tensor &z, int64_t k) { return detail::wrap(z.tape(), wg_nn_maxout(z.tape(), z.get(), k)); }
inline tensor softmax(const tensor &x, int axis = -1) { return detail::wrap(x.tape(), wg_nn_softmax(x.tape(), x.get(), axis)); }
inline tensor log_softmax(const tensor &x, int axis = -1)
{
    return detail::wrap(x.tape(), wg_nn_log_softmax(x.tape(), x.get(), axis));
}
inline tensor logsumexp(const tensor &x, int axis = -1, bool keepdim = false)
{
    return detail::wrap(x.tape(), wg_nn_logsumexp(x.tape(), x.get(), axis, keepdim));
}
inline tensor activate(const tensor &x, wg_act act, double alpha = WG_ACT_DEFAULT_ALPHA)
{
    return detail::wrap(x.tape(), wg_nn_activate(x.tape(), x.get(), act, alpha));
}
inline tensor reduce(const tensor &x, wg_reduction red) { return detail::wrap(x.tape(), wg_nn_reduce(x.tape(), x.get(), red)); }

#define WG__CXX_LOSS(name)                                                                            \
    inline tensor name(const tensor &y, const tensor &target, wg_reduction red = WG_REDUCE_MEAN)      \
    {                                                                                                 \
        return detail::wrap(y.tape(), wg_nn_##name(y.tape(), y.get(), target.get(), red));            \
    }
WG__CXX_LOSS(mse)
WG__CXX_LOSS(l1)
WG__CXX_LOSS(bce)
WG__CXX_LOSS(bce_logits)
WG__CXX_LOSS(cross_entropy)
WG__CXX_LOSS(softmax_cross_entropy)
WG__CXX_LOSS(perceptron_criterion)
#undef WG__CXX_LOSS
inline tensor sum_squares(const tensor &y, const tensor &target)
{
    return detail::wrap(y.tape(), wg_nn_sum_squares(y.tape(), y.get(), target.get()));
}
/* With class indices, one per sample. */
inline tensor cross_entropy(const tensor &q, const int *labels, wg_reduction red = WG_REDUCE_MEAN)
{
    return detail::wrap(q.tape(), wg_nn_cross_entropy_idx(q.tape(), q.get(), labels, red));
}
inline tensor softmax_cross_entropy(const tensor &logits, const int *labels, wg_reduction red = WG_REDUCE_MEAN)
{
    return detail::wrap(logits.tape(), wg_nn_softmax_cross_entropy_idx(logits.tape(), logits.get(), labels, red));
}
inline tensor softmax_cross_entropy(const tensor &logits, const tensor &y, const int *labels, const wg_ce_opts &opts)
{
    return detail::wrap(logits.tape(),
                        wg_nn_softmax_cross_entropy_ex(logits.tape(), logits.get(), y.get(), labels, &opts));
}
inline tensor gaussian_nll(const tensor &mu, const tensor &raw_scale, const tensor &y, wg_reduction red = WG_REDUCE_MEAN)
{
    return detail::wrap(mu.tape(), wg_nn_gaussian_nll(mu.tape(), mu.get(), raw_scale.get(), y.get(), red));
}
inline tensor laplace_nll(const tensor &mu, const tensor &raw_scale, const tensor &y, wg_reduction red = WG_REDUCE_MEAN)
{
    return detail::wrap(mu.tape(), wg_nn_laplace_nll(mu.tape(), mu.get(), raw_scale.get(), y.get(), red));
}
inline tensor mixture_nll(const tensor &logits, const tensor &mu, const tensor &raw_scale, const tensor &y, wg_dist dist,
                          wg_reduction red = WG_REDUCE_MEAN)
{
    return detail::wrap(logits.tape(), wg_nn_mixture_nll(logits.tape(), logits.get(), mu.get(), raw_scale.get(),
                                                         y.get(), dist, red));
}
inline tensor soft_jaccard(const tensor &p, const tensor &y, double eps = WG_NN_DICE_EPS)
{
    return detail::wrap(p.tape(), wg_nn_soft_jaccard(p.tape(), p.get(), y.get(), eps));
}
inline tensor soft_dice(const tensor &p, const tensor &y, double eps = WG_NN_DICE_EPS)
{
    return detail::wrap(p.tape(), wg_nn_soft_dice(p.tape(), p.get(), y.get(), eps));
}
/* 1/2 gamma sum ||w||^2 over the parameters, recorded on t. */
inline tensor l2_penalty(const tape &t, const param_list &ps, double gamma, bool include_biases = false)
{
    return detail::wrap(t.get(), wg_nn_l2_penalty(t.get(), ps.size(), ps.data(), gamma, include_biases));
}
} // namespace nn

} // inline namespace
} // namespace wg

#undef WG__LIKELY
#undef WG__COLD
#endif
