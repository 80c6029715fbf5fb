// wg_bench_cpp.cpp: scalar_chain written with wengert.hpp, for wg_bench's
// "run scalar_chain_cpp": the same chain as scalar_chain in wg_bench.c (y*a
// and y+b alternating on 0-d f32 values, then backward), as a C++ user
// writes it, so bench/compare can put the layer's cost next to the C calls'.
#include <wengert.hpp>

#include <cmath>

extern "C" double wg_bench_scalar_chain_cpp(int chain_ops, size_t *nodes);

double wg_bench_scalar_chain_cpp(int chain_ops, size_t *nodes)
{
    static wg::tape t; // one tape for the whole run, as the C side keeps one
    try {
        t.reset();
        wg::tensor x = t.scalar(WG_F32, 0.5, true);
        wg::tensor a = t.scalar(WG_F32, 0.9999, true);
        wg::tensor b = t.scalar(WG_F32, 0.0001, true);
        wg::tensor y = x;
        for (int i = 0; i < chain_ops; i += 2) {
            y = y * a;
            y = y + b;
        }
        y.backward();
        *nodes = t.nodes();
        return x.grad_item() + a.grad_item() + b.grad_item();
    } catch (const wg::error &) {
        return NAN;
    }
}
