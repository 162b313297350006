/*
 * camera.c — the test's stand-in for a camera driver and a main loop, around
 * examples/cortex-m/classify.c: N synthetic frames (a xorshift32 stream from
 * SEED: a bright disc on a noisy background, somewhere different in each),
 * classified; prints each frame's digit and confidence as float32 bit
 * patterns in hex (harness.c's format, so cmp_hex.py compares the host's
 * and the Cortex-M4's runs), then "end 2N"; no printf, as in harness.c.
 */
#include "classify.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint8_t frame[CAM_H][CAM_W];

static uint32_t next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void put_hex(uint32_t v)
{
    char buf[10];
    for (int i = 7; i >= 0; i--, v >>= 4) buf[i] = "0123456789abcdef"[v & 15];
    buf[8] = '\n';
    buf[9] = 0;
    fputs(buf, stdout);
}

static void put_float(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    put_hex(u);
}

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
    fputs("end ", stdout);
    char buf[12], *p = buf + sizeof buf;
    *--p = 0;
    *--p = '\n';
    for (int v = 2 * N; v || p == buf + sizeof buf - 2; v /= 10) *--p = (char)('0' + v % 10);
    fputs(p, stdout);
    return fflush(stdout) != 0;
}
