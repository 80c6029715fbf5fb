// test_cpp_nothrow: wengert.hpp compiled with WG_NO_EXCEPTIONS and
// -fno-exceptions.  A failed op returns an empty tensor, every later op on it
// is empty too, and the tape's error is checked once, as in C; the calls that
// report success return false.
#include <wengert.hpp>

#include "wg_test.h"

int main()
{
    wg::tape t;
    auto x1 = t.var(1), x2 = t.var(3);
    auto f = pow(2*x1 + 3*x2, 2) + 3;
    CHECK(f.backward(), "backward: %s", t.error());
    CHECK(f.item() == 124 && x1.grad_item() == 44 && x2.grad_item() == 66, "f %g, grads %g %g", f.item(),
          x1.grad_item(), x2.grad_item());

    wg::tensor a = t.make(WG_F32, {2, 3}), b = t.make(WG_F32, {2, 3});
    wg::tensor c = matmul(a, b);
    CHECK(!c, "a bad matmul gave a tensor");
    wg::tensor d = exp(c * 2 + a) / 3; // propagates, does nothing
    CHECK(!d, "an op on an empty tensor gave a tensor");
    CHECK_STR(t.error(), "matmul: inner dimensions differ: a is f32[2,3], b is f32[2,3]");
    CHECK(t.status() == WG_ERR_SHAPE, "status %d", (int)t.status());
    CHECK(!d.backward(), "backward of an empty tensor succeeded");
    t.reset();
    CHECK(t.error() == nullptr, "error after reset");

    // higher order: a failed driver gives an empty result and the tape's error
    wg::tensor v = t.make({2}, {1, 2}, true);
    CHECK(wg::hessian(v * v, {v}).empty(), "the hessian of a vector gave values");
    CHECK_STR(t.error(), "hessian: the output must have one element, got f64[2]");
    t.reset();
    wg::tensor s = t.var(2);
    CHECK(!wg::set_tangent(s, t.var(1), -1), "level -1 was accepted");
    CHECK_STR(t.error(), "set_tangent_at: level -1 is out of range: levels are 0..3");
    t.reset();

    wg::param p(WG_F32, {2, -1});
    CHECK(!p, "a parameter of shape [2,-1] was made");
    CHECK_STR(wg_last_error(), "param_new: invalid dimension -1 at axis 1");
    wg::checkpoint ck;
    CHECK(!ck.load("/nonexistent/wengert/run.safetensors"), "loading a missing file succeeded");
    CHECK_STR(ck.error(), "checkpoint /nonexistent/wengert/run.safetensors: cannot open: No such file or directory");
    return wg_test_done("test_cpp_nothrow");
}
