/* classify.h — the example's interface: a camera frame in, a digit out. */
#ifndef CLASSIFY_H
#define CLASSIFY_H

#include <stdint.h>

/* The camera's frames: 8-bit grey, row-major, CAM_W x CAM_H (a QQVGA
 * sensor; any size at least 24 x 24 works). */
#define CAM_W 160
#define CAM_H 120

/* The digit in frame (0-9), and the network's probability for it in
 * *confidence (when not NULL). */
int classify(const uint8_t *frame, float *confidence);

#endif
