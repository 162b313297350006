/*
 * classify.c — a microcontroller application around generated code: a
 * camera frame in, a digit out.  docs/embedding.md walks through it.
 *
 *   cnnc ../../dsl_examples/convnetjs_mnist.net --target cortex-m \
 *        --weights mnist.safetensors -o convnetjs_mnist.c
 *   arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -O2 -std=c99 \
 *        -D'CONVNETJS_MNIST_ARENA_SECTION=".sram2"' -c convnetjs_mnist.c classify.c
 *
 * then link both with your startup code, camera driver and -lm (the
 * network calls expf for its softmax).  The tests build it for QEMU's
 * Cortex-M4 board with a synthetic camera (tests/embedded/camera.c).
 */
#include "convnetjs_mnist.h"
#include "classify.h"

#include <stdint.h>

/* The network's input and output: 1x24x24 floats in, 10 probabilities out.
 * Its activations live in the arena inside convnetjs_mnist.c (23,040 bytes,
 * in the section .sram2 when built as above). */
static float in[CONVNETJS_MNIST_IN_SIZE];
static float prob[CONVNETJS_MNIST_OUT_SIZE];

/* The centre CAM_H x CAM_H square of the frame, each BLOCK x BLOCK block of
 * pixels averaged into one input, scaled from 0..255 to [0, 1] as the
 * network was trained on. */
#define SIDE (CONVNETJS_MNIST_IN_H * BLOCK)
#define BLOCK (CAM_H / CONVNETJS_MNIST_IN_H)
#if SIDE > CAM_H || SIDE > CAM_W
#error "the camera frame is smaller than the network's input"
#endif

static void frame_to_input(const uint8_t *frame, float *x)
{
    const int top = (CAM_H - SIDE) / 2, left = (CAM_W - SIDE) / 2;
    for (int oy = 0; oy < CONVNETJS_MNIST_IN_H; oy++)
        for (int ox = 0; ox < CONVNETJS_MNIST_IN_W; ox++) {
            uint32_t sum = 0;
            for (int dy = 0; dy < BLOCK; dy++) {
                const uint8_t *row = frame + (size_t)(top + oy * BLOCK + dy) * CAM_W + left + ox * BLOCK;
                for (int dx = 0; dx < BLOCK; dx++) sum += row[dx];
            }
            x[oy * CONVNETJS_MNIST_IN_W + ox] = (float)sum * (1.0f / (255.0f * BLOCK * BLOCK));
        }
}

int classify(const uint8_t *frame, float *confidence)
{
    frame_to_input(frame, in);
    if (convnetjs_mnist_forward(in, prob) != CONVNETJS_MNIST_OK) return -1;   /* cannot fail on valid arguments */
    int best = 0;
    for (int c = 1; c < CONVNETJS_MNIST_OUT_SIZE; c++)
        if (prob[c] > prob[best]) best = c;
    if (confidence) *confidence = prob[best];
    return best;
}
