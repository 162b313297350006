/*
 * camera.c — the test's stand-in for a camera driver and a main loop, around
 * examples/cortex-m/classify.c: N synthetic frames (a xorshift32 stream from
 * SEED: a bright disc on a noisy background, somewhere different in each),
 * classified; prints each frame's digit and confidence as float32 bit
 * patterns in hex (hexout.h, as harness.c: cmp_hex.py compares the host's
 * and the Cortex-M4's runs), then "end 2N".
 */
#include "classify.h"
#include "hexout.h"

static uint8_t frame[CAM_H][CAM_W];

int main(void)
{
    uint32_t s = (uint32_t)SEED * 2654435761u + 1u;
    for (int k = 0; k < N; k++) {
        const int cy = 30 + (int)(next(&s) % 60), cx = 50 + (int)(next(&s) % 60), r = 10 + (int)(next(&s) % 20);
        for (int y = 0; y < CAM_H; y++)
            for (int x = 0; x < CAM_W; x++) {
                const int in = (y - cy) * (y - cy) + (x - cx) * (x - cx) < r * r;
                frame[y][x] = (uint8_t)((in ? 200 : 20) + next(&s) % 40);
            }
        float conf;
        const int digit = classify(&frame[0][0], &conf);
        if (digit < 0) return 1;
        put_float((float)digit);
        put_float(conf);
    }
    put("end ", 2 * N, 10, 1);
    return fflush(stdout) != 0;
}
