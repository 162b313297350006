/*
 * hexout.h — what harness.c and camera.c share: the xorshift32 stream their
 * inputs come from, and output without printf (newlib's float formatting
 * stays out of the Cortex-M image): a float as its 32-bit pattern in hex,
 * one per line, and the closing "end N" that cmp_hex.py reads.
 */
#ifndef HEXOUT_H
#define HEXOUT_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint32_t next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Writes PREFIX, then v in base BASE (digits at least wide) and a newline. */
static void put(const char *prefix, uint32_t v, uint32_t base, int digits)
{
    char buf[16], *p = buf + sizeof buf;
    *--p = 0;
    *--p = '\n';
    do {
        *--p = "0123456789abcdef"[v % base];
        v /= base;
    } while (--digits > 0 || v);
    fputs(prefix, stdout);
    fputs(p, stdout);
}

/* f as its bit pattern, 8 hex digits */
static void put_float(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    put("", u, 16, 8);
}

#endif
