/* chain_rule: the lecture's worked example, f(x) = (2 x1 + 3 x2)^2 + 3 at (1, 3).
 *
 * Prints the Wengert list the tape recorded (each intermediate with its value),
 * the adjoints in reverse order, the gradient (44, 66), and the symmetric
 * finite-difference estimate the lecture computes by hand.
 */
#include <stdio.h>

#include "wengert.h"

/* The lecture's names for the intermediates, in recording order. */
static const char *lecture_name(size_t k)
{
    static const char *names[] = {"x1", "x2", "a = 2 x1", "b = 3 x2", "c = a + b", "e = c^2", "g = e + 3"};
    return k < sizeof names / sizeof names[0] ? names[k] : "";
}

static double f(double x1, double x2) { return (2 * x1 + 3 * x2) * (2 * x1 + 3 * x2) + 3; }

/* A node worth a line: not one of the numbers written into the expression. */
static int is_named(const wg_tensor *n) { return !wg_is_leaf(n) || wg_requires_grad(n); }

/* "v3" for a named node, "2" for a number. */
static const char *operand(const wg_tensor *x, const size_t *slot, char *buf, size_t len)
{
    if (is_named(x))
        snprintf(buf, len, "v%zu", slot[wg_node_index(x)]);
    else
        snprintf(buf, len, "%g", wg_item(x));
    return buf;
}

int main(void)
{
    wg_tape *t = wg_tape_new();
    if (!t) return 1;
    wg_tensor *x1 = wg_var(t, 1.0), *x2 = wg_var(t, 3.0);
    /* One line would do:  g = wg_add(t, wg_pow(t, wg_add(t, wg_mul(t, 2, x1), wg_mul(t, 3, x2)), 2), 3);
     * but C leaves the order of evaluating arguments open, so the list is
     * recorded step by step here to print it in the lecture's order. */
    wg_tensor *a = wg_mul(t, 2, x1);
    wg_tensor *b = wg_mul(t, 3, x2);
    wg_tensor *c = wg_add(t, a, b);
    wg_tensor *e = wg_pow(t, c, 2);
    wg_tensor *g = wg_add(t, e, 3);
    if (!g || wg_backward(t, g) != 0) {
        fprintf(stderr, "chain_rule: %s\n", wg_tape_error(t));
        wg_tape_free(t);
        return 1;
    }

    /* The tape links nodes newest first; collect them oldest first. */
    enum { MAX = 64 };
    wg_tensor *nodes[MAX];
    size_t n = 0, slot[MAX], named = 0;
    for (wg_tensor *v = wg_tape_last(t); v && n < MAX; v = wg_prev(v)) nodes[n++] = v;
    for (size_t i = 0; i < n / 2; i++) {
        wg_tensor *tmp = nodes[i];
        nodes[i] = nodes[n - 1 - i];
        nodes[n - 1 - i] = tmp;
    }
    wg_tensor *list[MAX];
    for (size_t i = 0; i < n; i++)
        if (is_named(nodes[i])) {
            slot[wg_node_index(nodes[i])] = named;
            list[named++] = nodes[i];
        }

    printf("f(x1, x2) = (2 x1 + 3 x2)^2 + 3 at (x1, x2) = (1, 3)\n\n");
    printf("Forward pass: the Wengert list the tape recorded\n");
    for (size_t k = 0; k < named; k++) {
        wg_tensor *v = list[k];
        char lhs[64], a[32], b[32];
        if (wg_is_leaf(v))
            snprintf(lhs, sizeof lhs, "input");
        else if (wg_n_inputs(v) == 2)
            snprintf(lhs, sizeof lhs, "%s(%s, %s)", wg_op_name(v), operand(wg_input(v, 0), slot, a, sizeof a),
                     operand(wg_input(v, 1), slot, b, sizeof b));
        else
            snprintf(lhs, sizeof lhs, "%s(%s)", wg_op_name(v), operand(wg_input(v, 0), slot, a, sizeof a));
        printf("  v%zu = %-16s = %8g    %s\n", k, lhs, wg_item(v), lecture_name(k));
    }

    printf("\nBackward pass: adjoints, newest first (v_bar = d g / d v)\n");
    for (size_t k = named; k-- > 0;)
        printf("  v%zu_bar = %8g    %s\n", k, wg_grad_item(list[k]), lecture_name(k));

    printf("\nGradient\n  df/dx1 = %g\n  df/dx2 = %g\n", wg_grad_item(x1), wg_grad_item(x2));

    double h = 1e-2; /* the lecture's step: x1 +- 1e-2, divided by 2e-2 */
    double fd1 = (f(1 + h, 3) - f(1 - h, 3)) / (2 * h);
    double fd2 = (f(1, 3 + h) - f(1, 3 - h)) / (2 * h);
    printf("\nSymmetric finite differences, (f(x + h) - f(x - h)) / 2h with 2h = 2e-2\n");
    printf("  df/dx1 ~ %.4f = %.17g in doubles   (tape: %g; the lecture shows 43.9999)\n", fd1, fd1,
           wg_grad_item(x1));
    printf("  df/dx2 ~ %.4f = %.17g in doubles   (tape: %g)\n", fd2, fd2, wg_grad_item(x2));
    wg_tape_free(t);
    return 0;
}
