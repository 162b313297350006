/*
 * import.h — a network read from another format (ONNX: import_onnx.c;
 * darknet: import_darknet.c) as a graph of .net layers, which import.c
 * writes out as a .net file a person would have written and a safetensors
 * file of its weights under the names that file gives them.
 *
 * A front end fills an ImpGraph: node 0 is the input; every other node is
 * one .net layer whose inputs are earlier nodes.  Layers with one input
 * form chains; a merge (add, concat, mul, sub, mean) joins branches, and
 * import.c recovers the residual/concat/scale/merge blocks from where the
 * branches fork.  Names are dotted module paths (layer1.0.conv1); import.c
 * turns their common prefixes into scopes.
 */
#ifndef CNNC_IMPORT_H
#define CNNC_IMPORT_H

#include <stdbool.h>
#include <stddef.h>

#define IMP_MAX_TENSORS 4
#define IMP_MAX_INPUTS 128

typedef struct ImpTensor {
    const char *suffix;        /* weight, bias, running_mean, running_var */
    int ndim;
    long long dims[5];         /* PyTorch's layout: conv [out][in/groups][kh][kw], dense [out][in] */
    float *data;               /* the values, dims' product of them */
} ImpTensor;

typedef struct ImpNode {
    const char *kind;          /* the .net word: input, conv, dense, batchnorm, relu, maxpool, ...;
                                  the merges add, concat, mul, sub, mean */
    const char *args;          /* the rest of its line after the name: "64 k3 s2 p1 nobias"
                                  (the input's: its sizes, "3x224x224") */
    const char *path;          /* dotted module path (layer1.0.conv1); "": the network's own
                                  (a functional op in its forward); NULL: none known */
    const char *origin;        /* where it came from, for the comment and errors:
                                  "node /layer1/layer1.0/conv1/Conv (Conv)", "line 12 [convolutional]" */
    const char *shape;         /* its output's shape as the report writes it ("64×56×56"), or NULL */
    int nin;
    int in[IMP_MAX_INPUTS];    /* input nodes, each earlier than this one */
    int nt;
    ImpTensor t[IMP_MAX_TENSORS];
} ImpNode;

typedef struct ImpGraph {
    const char *name;          /* the network's name (an identifier) */
    const char *source;        /* the file it was read from */
    ImpNode *nodes;
    int n, cap;
    int output;                /* the node whose value is the network's output */
} ImpGraph;

/* Where the importers' messages go: stderr, or what import_set_out gave
 * (the fuzz target's /dev/null). */
#include <stdio.h>
FILE *import_out(void);
void import_set_out(FILE *f);

/* Append a node (arena memory); returns its index. */
void *imp_grow(void *v, int n, int *cap, size_t size, int first);   /* room for one more (import.c) */
int imp_add(ImpGraph *g, const char *kind, const char *path, const char *args);

/* Write g as NET_PATH (the .net text) and ST_PATH (its weights), both or
 * neither.  An error (a structure the language cannot express) is printed
 * naming the node and its origin; returns the error count, 2 on an output
 * failure. */
int import_write(const ImpGraph *g, const char *net_path, const char *st_path);

/* The front ends: read PATH into *g; errors are printed (naming PATH and
 * what was expected and found) and counted.  weights: darknet's .weights
 * file, or NULL (then random weights are not written: the .net alone). */
int import_onnx(const char *path, ImpGraph *g);
int import_onnx_bytes(const char *path, const unsigned char *buf, size_t len, ImpGraph *g);   /* path: for messages */
int import_darknet(const char *cfg, const char *weights, ImpGraph *g);

#endif
