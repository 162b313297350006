/*
 * test_rt_optim.c — optimizers and learning-rate schedules vs torch.optim.
 *
 * One random parameter block and STEPS fresh random gradients (fixed seed)
 * are written to a file; tests/ref/rt_optim.py applies torch.optim (SGD,
 * momentum with dampening, Nesterov, Adagrad, RMSprop plain and
 * momentum+centered, Adam, AdamW), each with and without weight decay,
 * each under four schedules (constant; constant, step and cosine with
 * linear warm-up via LinearLR/StepLR/CosineAnnealingLR/SequentialLR),
 * and writes back the parameters after STEPS steps and the lr of each step.
 * All configurations go through one Python run.  No torch → the test fails.
 *
 * Tolerances.  cnnrt_optim_step repeats ATen's float32 operations in the
 * same order (add-with-alpha as a fused multiply-add, as ATen's AVX2 kernels
 * do), so SGD matches bit for bit and the others differ by the odd rounding
 * of sqrt/division (measured ≤ 3e-7 after 10 steps).  On a PyTorch build
 * without FMA every operation may differ by one rounding (≤ 4 ulp ≈ 2.4e-7
 * of the update per step), ≲ 1e-6 over 10 steps relative to the parameter
 * magnitude: parameters are compared by max |Δ| / max(|p|, 0.1) ≤ 1e-6
 * (parameters start in [−1, 1]; the 0.1 floor keeps a parameter that
 * crosses 0 from being judged by its own tiny size).  Learning rates are
 * Python doubles rounded to float on both sides: max rel 1e-6.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cnnrt_test.h"

#define COUNT 37
#define STEPS 10

typedef struct {
    const char *name;
    cnnrt_optim o;
    double lr;
} opt_case;

static const char *opt_tag(cnnrt_optim_kind k)
{
    switch (k) {
    case CNNRT_SGD: return "sgd";
    case CNNRT_ADAGRAD: return "adagrad";
    case CNNRT_RMSPROP: return "rmsprop";
    case CNNRT_ADAM: return "adam";
    case CNNRT_ADAMW: return "adamw";
    }
    return "?";
}

static const char *sched_tag(cnnrt_lr_kind k)
{
    return k == CNNRT_LR_STEP ? "step" : k == CNNRT_LR_COSINE ? "cosine" : "constant";
}

static void test_optim_vs_torch(void **s)
{
    (void)s;
    opt_case ops[8];
    int no = 0;
    ops[no] = (opt_case){"sgd", cnnrt_optim_defaults(CNNRT_SGD), 0.1};
    no++;
    ops[no] = (opt_case){"sgd momentum+dampening", cnnrt_optim_defaults(CNNRT_SGD), 0.1};
    ops[no].o.momentum = 0.9;
    ops[no].o.dampening = 0.1;
    no++;
    ops[no] = (opt_case){"sgd nesterov", cnnrt_optim_defaults(CNNRT_SGD), 0.1};
    ops[no].o.momentum = 0.9;
    ops[no].o.nesterov = 1;
    no++;
    ops[no] = (opt_case){"adagrad lr_decay", cnnrt_optim_defaults(CNNRT_ADAGRAD), 0.1};
    ops[no].o.lr_decay = 0.01;
    no++;
    ops[no] = (opt_case){"rmsprop", cnnrt_optim_defaults(CNNRT_RMSPROP), 0.01};
    no++;
    ops[no] = (opt_case){"rmsprop momentum centered", cnnrt_optim_defaults(CNNRT_RMSPROP), 0.01};
    ops[no].o.momentum = 0.5;
    ops[no].o.centered = 1;
    no++;
    ops[no] = (opt_case){"adam", cnnrt_optim_defaults(CNNRT_ADAM), 0.01};
    no++;
    ops[no] = (opt_case){"adamw", cnnrt_optim_defaults(CNNRT_ADAMW), 0.01};
    no++;

    const double wds[2] = {0.0, 0.05};
    cnnrt_lr_schedule scheds[4] = {
        {.kind = CNNRT_LR_CONSTANT},
        {.kind = CNNRT_LR_CONSTANT, .warmup_steps = 3, .warmup_start_factor = 0.25},
        {.kind = CNNRT_LR_STEP, .warmup_steps = 2, .warmup_start_factor = 0.5,
         .step_size = 3, .gamma = 0.5},
        {.kind = CNNRT_LR_COSINE, .warmup_steps = 3, .warmup_start_factor = 0.1, .T = 7},
    };
    enum { NCFG = 8 * 2 * 4 };

    /* data: p0 then STEPS gradients */
    cnnrt_rng rng;
    cnnrt_rng_seed(&rng, 401);
    float *in = t_falloc((size_t)COUNT * (STEPS + 1));
    t_fill(in, (size_t)COUNT * (STEPS + 1), &rng, -1, 1);

    /* specs for the script, and our own runs */
    char *spec = calloc(NCFG, 400);
    assert_non_null(spec);
    size_t len = 0;
    const size_t per = COUNT + STEPS;
    float *mine = t_falloc(NCFG * per), *ref = t_falloc(NCFG * per);
    float *state = t_falloc(3 * COUNT);
    char names[NCFG][96];
    int k = 0;
    for (int oi = 0; oi < no; oi++)
        for (int wi = 0; wi < 2; wi++)
            for (int si = 0; si < 4; si++, k++) {
                cnnrt_optim o = ops[oi].o;
                o.weight_decay = wds[wi];
                cnnrt_lr_schedule sc = scheds[si];
                sc.base_lr = ops[oi].lr;
                sc.min_lr = 0.1 * sc.base_lr;
                snprintf(names[k], sizeof names[k], "%s wd=%g %s warmup=%ld", ops[oi].name,
                         o.weight_decay, sched_tag(sc.kind), sc.warmup_steps);
                len += (size_t)snprintf(spec + len, (size_t)NCFG * 400 - len,
                    "%s%s,%.17g,%.17g,%.17g,%.17g,%d,%.17g,%.17g,%.17g,%.17g,%d,%.17g,"
                    "%s,%ld,%.17g,%ld,%.17g,%ld,%.17g", k ? "/" : "",
                    opt_tag(o.kind), sc.base_lr, o.weight_decay, o.momentum, o.dampening,
                    o.nesterov, o.beta1, o.beta2, o.eps, o.alpha, o.centered, o.lr_decay,
                    sched_tag(sc.kind), sc.warmup_steps, sc.warmup_start_factor,
                    sc.step_size, sc.gamma, sc.T, sc.min_lr);
                float *p = mine + (size_t)k * per, *lrs = p + COUNT;
                memcpy(p, in, COUNT * sizeof(float));
                memset(state, 0, 3 * COUNT * sizeof(float));
                assert_true(cnnrt_optim_state_blocks(&o) <= 3);
                for (long t = 0; t < STEPS; t++) {
                    double lr = cnnrt_lr_at(&sc, t);
                    lrs[t] = (float)lr;
                    assert_int_equal(cnnrt_optim_step(p, state, in + (size_t)(t + 1) * COUNT,
                                                      &o, lr, t + 1, COUNT), CNNRT_OK);
                }
            }
    assert_int_equal(k, NCFG);

    char *args = malloc(len + 64);
    assert_non_null(args);
    snprintf(args, len + 64, "%d %d '%s'", COUNT, STEPS, spec);
    t_torch("rt_optim.py", args, in, (size_t)COUNT * (STEPS + 1), ref, NCFG * per);

    double *rd = t_dalloc(per);
    double worst = 0;
    for (k = 0; k < NCFG; k++) {
        char what[160];
        t_to_double(rd, ref + (size_t)k * per, per);
        snprintf(what, sizeof what, "%.100s: lr", names[k]);
        t_check_maxrel(what, mine + (size_t)k * per + COUNT, rd + COUNT, STEPS, 1e-30, 1e-6);
        snprintf(what, sizeof what, "%.100s: params", names[k]);
        double e = t_check_maxrel(what, mine + (size_t)k * per, rd, COUNT, 0.1, 1e-6);
        worst = e > worst ? e : worst;
    }
    if (t_verbose())
        fprintf(stderr, "  optimizers: worst params max rel err %.3g\n", worst);
    free(in); free(spec); free(mine); free(ref); free(state); free(args); free(rd);
}

static void test_schedules(void **s)
{
    (void)s;
    cnnrt_lr_schedule sc = {.kind = CNNRT_LR_COSINE, .base_lr = 1.0, .T = 4, .min_lr = 0.2,
                            .warmup_steps = 2, .warmup_start_factor = 0.5};
    assert_true(cnnrt_lr_at(&sc, 0) == 0.5);
    assert_true(cnnrt_lr_at(&sc, 1) == 0.75);
    assert_true(cnnrt_lr_at(&sc, 2) == 1.0);
    assert_true(fabs(cnnrt_lr_at(&sc, 4) - 0.6) < 1e-15);   /* halfway */
    assert_true(fabs(cnnrt_lr_at(&sc, 6) - 0.2) < 1e-15);
    assert_true(fabs(cnnrt_lr_at(&sc, 60) - 0.2) < 1e-15);  /* held after T */
    cnnrt_optim o = cnnrt_optim_defaults(CNNRT_ADAM);
    float p = 1, st[2] = {0, 0}, g = 1;
    assert_int_equal(cnnrt_optim_step(&p, st, &g, &o, 0.1, 0, 1), CNNRT_EINVAL);
    o.kind = (cnnrt_optim_kind)99;
    assert_int_equal(cnnrt_optim_step(&p, st, &g, &o, 0.1, 1, 1), CNNRT_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedules),
        cmocka_unit_test(test_optim_vs_torch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
