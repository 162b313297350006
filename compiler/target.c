/*
 * target.c — what the generated C is built for (cnnc --target NAME).
 *
 * One row per target: its name, what --help says, the preprocessor test the
 * generated .c checks first (a build for another architecture stops at an
 * #error naming the target, not in a pile of intrinsics errors), which
 * SIMD kernels the templates write, how the arena is aligned, and whether
 * the kernels are chosen for RAM first (no scratch beyond the live
 * activations: lower_conv.c conv_algo()).  The default is the machine cnnc
 * runs on.
 */
#include "cnnc.h"

#include <string.h>

const Target targets[] = {
    { "x86-64", "x86-64 (AVX2+FMA and AVX-512 kernels when built with -march for them)",
      "defined(__x86_64__) || defined(_M_X64)", "AVX", 64, false, false,
      "cc -std=c99 -O2" },
    { "aarch64", "64-bit ARM (NEON kernels, always present on aarch64)",
      "defined(__aarch64__) || defined(_M_ARM64)", "NEON", 64, false, false,
      "cc -std=c99 -O2 -ffp-contract=fast" },
    { "cortex-m", "ARM Cortex-M microcontrollers (implies --standalone; arena of the live activations only)",
      "defined(__arm__) && defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M'", "NONE", 8, true, true,
      "arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -std=c99 -O2" },
    { "generic", "plain C99 for any machine (no intrinsics)", NULL, "NONE", 64, false, false,
      "cc -std=c99 -O2" },
};
const int ntargets = (int)(sizeof targets / sizeof targets[0]);

/* the machine cnnc itself was built for: its row in targets[] */
#if defined(__x86_64__)
#define HOST 0
#elif defined(__aarch64__)
#define HOST 1
#else
#define HOST 3
#endif

const Target *target_host(void) { return &targets[HOST]; }

const Target *target_find(const char *name) {
    for (int i = 0; i < ntargets; i++)
        if (strcmp(targets[i].name, name) == 0) return &targets[i];
    return NULL;
}

/* "x86-64, aarch64, cortex-m or generic": the names, for messages */
const char *target_names(void) {
    const char *s = targets[0].name;
    for (int i = 1; i < ntargets; i++)
        s = arena_printf("%s%s%s", s, i == ntargets - 1 ? " or " : ", ", targets[i].name);
    return s;
}

const Target *target = &targets[HOST];
