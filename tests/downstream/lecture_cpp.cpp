#include <cstdio>
#include <wengert.hpp>

int main()
{
    wg::tape t;
    auto x1 = t.var(1), x2 = t.var(3);
    auto f = pow(2*x1 + 3*x2, 2) + 3; f.backward();
    std::printf("%g %g %g\n", f.item(), x1.grad_item(), x2.grad_item()); // 124 44 66

    try {
        matmul(t.make(WG_F32, {2, 3}), t.make(WG_F32, {2, 3}));
    } catch (const wg::error &e) {
        std::printf("%s\n", e.what()); // matmul: inner dimensions differ: a is f32[2,3], b is f32[2,3]
    }

    // A 2-8-1 MLP learns XOR: tanh hidden units, logits out, Adam.
    const double X[] = {0, 0, 0, 1, 1, 0, 1, 1}, Y[] = {0, 1, 1, 0};
    wg::mlp net(WG_F64, {2, 8, 1}, WG_ACT_TANH, WG_ACT_IDENTITY);
    wg::rng r(3);
    net.init(WG_INIT_XAVIER, 0, 0, r);
    wg::optimizer opt(WG_OPT_ADAM, 0.05, net.params());
    for (int step = 0; step < 300; step++) {
        t.reset(); // the tape keeps its memory: no malloc after the first step
        auto loss = wg::nn::bce_logits(net(t.view(WG_F64, {4, 2}, X)), t.view(WG_F64, {4, 1}, Y));
        opt.zero_grad();
        loss.backward();
        opt.step();
    }
    t.reset();
    auto p = wg::nn::sigmoid(net(t.view(WG_F64, {4, 2}, X)));
    std::printf("xor: %.0f %.0f %.0f %.0f\n", p.at(0), p.at(1), p.at(2), p.at(3)); // 0 1 1 0
}
