#!/bin/sh
# tests/e2e/suite_install.sh BUILD — make install / make uninstall, used as a user would:
#   - `make install PREFIX=$T/usr` puts every file in its place;
#   - with PATH and PKG_CONFIG_PATH pointing at that prefix (and run from a
#     directory outside the repository, with no CNNC_TEMPLATE_DIR), the
#     installed cnnc generates C (it finds the installed templates), also
#     after the whole prefix was moved elsewhere;
#   - the installed headers compile on their own;
#   - applications build against the installed cnnrt with nothing but
#     `pkg-config --cflags --libs cnnrt` (shared libcnnrt) and
#     `pkg-config --static ...` (libcnnrt.a), and run: a training program
#     from `cnnc --train` that also reads a gzipped IDX file, and the
#     generated inference code;
#   - `man -l` renders both man pages, and they cover every option of
#     --help;
#   - DESTDIR stages an install for PREFIX=/usr;
#   - `make uninstall` leaves no file behind.
set -u
. "$(dirname "$0")/../lib.sh"

P=$T/usr
if mk B="$B" install PREFIX="$P" >"$T/install.log" 2>&1; then
    ok "make install PREFIX=$P"
else
    no "make install"; cat "$T/install.log"; finish
fi
missing=""
for f in bin/cnnc bin/cnnc-train lib/libcnnrt.a lib/libcnnrt.so lib/libcnnrt.so.0 lib/pkgconfig/cnnrt.pc \
         include/cnnrt.h include/cnnrt_net.h include/cnnrt_acts.def share/cnnc/templates/cnnc.m4 share/man/man1/cnnc.1 \
         share/man/man1/cnnc-train.1 share/doc/cnnc/language.md share/doc/cnnc/report.md share/doc/cnnc/failures.md \
         share/doc/cnnc/checkpoint.md; do
    [ -e "$P/$f" ] || missing="$missing $f"
done
[ -z "$missing" ] && ok "every file is installed" || no "not installed:$missing"
soname=$(readelf -d "$P/lib/libcnnrt.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = libcnnrt.so.0 ] && [ -L "$P/lib/libcnnrt.so" ] && ok "libcnnrt.so: soname $soname, symlinked" ||
    no "libcnnrt.so soname '$soname'"
if grep -q "$REPO/compiler/templates" "$P/bin/cnnc"; then
    no "the installed cnnc still points into the source tree for its templates"
else
    ok "the installed cnnc does not point into the source tree"
fi

# --- as a user: the installed tools only ---------------------------------------
unset CNNC_TEMPLATE_DIR
export PATH="$P/bin:/usr/bin:/bin"
export PKG_CONFIG_PATH="$P/lib/pkgconfig"
A=$T/app
mkdir -p "$A"
cd "$A" || exit 1
[ "$(command -v cnnc)" = "$P/bin/cnnc" ] && [ "$(command -v cnnc-train)" = "$P/bin/cnnc-train" ] &&
    ok "PATH finds the installed cnnc and cnnc-train" || no "PATH finds $(command -v cnnc)"

cat >tiny.net <<'EOF'
network tiny input 1x8x8
conv c1 4 k3 p1 relu
maxpool 2 s2
flatten
dense fc 16 relu
dense out 3
EOF
if cnnc tiny.net -o tiny.c 2>err && [ -s tiny.c ] && [ -s tiny.h ] && cnnc tiny.net --train -o tiny_train.c 2>>err; then
    ok "the installed cnnc generates C and training code (it finds its templates)"
else
    no "the installed cnnc"; cat err
fi
mv "$P" "$T/moved"
mkdir -p moved
if "$T/moved/bin/cnnc" tiny.net -o moved/tiny.c 2>err && cmp -s tiny.c moved/tiny.c; then
    ok "a moved install still finds its templates (beside the binary)"
else
    no "a moved install"; cat err
fi
mv "$T/moved" "$P"

# the installed headers stand alone, in C99 and in C++
hdr_ok=1
for h in cnnrt.h cnnrt_net.h; do
    printf '#include <%s>\nint main(void) { return 0; }\n' "$h" >hdr.c
    cc -std=c99 -Wall -Wextra -Wpedantic -Werror $(pkg-config --cflags cnnrt) -c hdr.c -o hdr.o 2>>err || hdr_ok=0
    if command -v c++ >/dev/null; then
        c++ -x c++ -Wall -Wextra -Werror $(pkg-config --cflags cnnrt) -c hdr.c -o hdr.o 2>>err || hdr_ok=0
    fi
done
[ $hdr_ok = 1 ] && ok "cnnrt.h and cnnrt_net.h compile on their own (C99, C++)" || { no "installed headers"; cat err; }

# a training program: cnnc --train code + cnnrt's IDX loader on a gzipped file
cat >train_app.c <<'EOF'
#include "tiny_train.h"

#include <cnnrt.h>
#include <stdio.h>

int main(int argc, char **argv) {
    char err[512];
    cnnrt_idx_images im;
    cnnrt_idx_labels lb;
    if (argc < 3 || cnnrt_idx_load_images(argv[1], &im, err, sizeof err) != CNNRT_OK ||
        cnnrt_idx_load_labels(argv[2], &lb, err, sizeof err) != CNNRT_OK) {
        fprintf(stderr, "train_app: %s\n", argc < 3 ? "usage: train_app IMAGES LABELS" : err);
        return 1;
    }
    if (im.h * im.w != TINY_IN_SIZE || im.n != lb.n) { fprintf(stderr, "train_app: bad data\n"); return 1; }
    cnnrt_train_opts o = { .optim = cnnrt_optim_defaults(CNNRT_ADAM),
                           .lr = { .kind = CNNRT_LR_CONSTANT, .base_lr = 1e-2 },
                           .loss = CNNRT_LOSS_XENT, .seed = 1 };
    tiny_train *t = tiny_train_new(im.n, &o, err, sizeof err);
    if (!t) { fprintf(stderr, "train_app: %s\n", err); return 1; }
    float x[64 * TINY_IN_SIZE];
    int32_t y[64];
    cnnrt_u8_to_float(x, im.data, 0.0f, 1.0f, (size_t)im.n * TINY_IN_SIZE);
    for (int i = 0; i < im.n; i++) y[i] = lb.data[i];
    float first = tiny_train_step(t, x, y, im.n), last = first;
    for (int s = 0; s < 60; s++) last = tiny_train_step(t, x, y, im.n);
    printf("%d images %dx%d, loss %.4f -> %.4f\n", im.n, im.h, im.w, first, last);
    if (tiny_train_save(t, "tiny.safetensors", err, sizeof err) != CNNRT_OK) {
        fprintf(stderr, "train_app: %s\n", err);
        return 1;
    }
    tiny_train_free(t);
    cnnrt_idx_images_free(&im);
    cnnrt_idx_labels_free(&lb);
    return last < first / 2 ? 0 : 1;
}
EOF
# 48 images of 8x8 in 3 classes: a bright row at 1, 4 or 6
python3 - <<'EOF'
import gzip, struct
n = 48
imgs = bytearray()
labels = bytearray()
for i in range(n):
    c = i % 3
    img = bytearray((17 * i + 31 * j) % 40 for j in range(64))
    row = (1, 4, 6)[c]
    for j in range(8):
        img[row * 8 + j] = 230
    imgs += img
    labels.append(c)
with gzip.open("img-idx3-ubyte.gz", "wb") as f:
    f.write(struct.pack(">IIII", 0x803, n, 8, 8) + bytes(imgs))
with gzip.open("lbl-idx1-ubyte.gz", "wb") as f:
    f.write(struct.pack(">II", 0x801, n) + bytes(labels))
EOF
export LD_LIBRARY_PATH="$P/lib"
if cc -std=c99 -O2 -Wall -Wextra -Werror train_app.c tiny_train.c -o train_app $(pkg-config --cflags --libs cnnrt) 2>err; then
    if readelf -d train_app | grep -q 'NEEDED.*libcnnrt.so.0' && ./train_app img-idx3-ubyte.gz lbl-idx1-ubyte.gz >out 2>err; then
        ok "shared: cc train_app.c tiny_train.c \$(pkg-config --cflags --libs cnnrt): $(cat out)"
    else
        no "the shared-linked training app"; cat err out
    fi
else
    no "cc ... \$(pkg-config --cflags --libs cnnrt)"; cat err
fi
static_libs=$(pkg-config --static --libs cnnrt | sed 's/-lcnnrt/-l:libcnnrt.a/')
if cc -std=c99 -O2 -Wall -Wextra -Werror train_app.c tiny_train.c -o train_static $(pkg-config --cflags cnnrt) $static_libs 2>err; then
    if ! readelf -d train_static | grep -q libcnnrt && env -u LD_LIBRARY_PATH ./train_static img-idx3-ubyte.gz lbl-idx1-ubyte.gz >out 2>err; then
        ok "static: libcnnrt.a with \$(pkg-config --static --libs cnnrt): $(cat out)"
    else
        no "the statically linked training app"; cat err out
    fi
else
    no "cc ... \$(pkg-config --static --libs cnnrt)"; cat err
fi

# the generated inference code, with the checkpoint the app wrote
cat >infer.c <<'EOF'
#include "tiny.h"

#include <math.h>
#include <stdio.h>

int main(void) {
    float in[TINY_IN_SIZE], out[TINY_OUT_SIZE];
    for (int c = 0; c < 3; c++) {
        for (int j = 0; j < TINY_IN_SIZE; j++) in[j] = (float)((17 * c + 31 * j) % 40) / 255.0f;
        for (int j = 0; j < 8; j++) in[(c == 0 ? 1 : c == 1 ? 4 : 6) * 8 + j] = 230 / 255.0f;
        if (tiny_forward(in, out) != 0) return 1;
        int best = 0;
        for (int k = 1; k < TINY_OUT_SIZE; k++) best = out[k] > out[best] ? k : best;
        printf("%d", best);
        if (best != c || !isfinite(out[best])) return 1;
    }
    printf("\n");
    return 0;
}
EOF
if cnnc tiny.net --weights tiny.safetensors -o tiny.c 2>err &&
   cc -std=c99 -O2 -Wall -Wextra -Werror infer.c tiny.c -o infer $(pkg-config --cflags --libs cnnrt) -lm 2>>err &&
   ./infer >out 2>>err; then
    ok "the generated inference code builds with pkg-config and classifies what train_app learnt: $(cat out)"
else
    no "generated inference code against the installed cnnrt"; cat err out
fi

# man pages: render, and name every long option of --help
for prog in cnnc cnnc-train; do
    if MANWIDTH=80 man -l "$P/share/man/man1/$prog.1" >man.txt 2>err && grep -q "EXIT STATUS" man.txt; then
        miss=""
        for o in $($prog --help | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
            grep -q -- "$o" man.txt || miss="$miss $o"
        done
        [ -z "$miss" ] && ok "man -l $prog.1 renders and covers every option of --help" ||
            no "$prog.1 does not document:$miss"
    else
        no "man -l $prog.1"; cat err
    fi
done

# --- staging, and uninstall ---------------------------------------------------
cd "$REPO" || exit 1
if mk B="$B" install DESTDIR="$T/stage" PREFIX=/usr >"$T/stage.log" 2>&1 && [ -x "$T/stage/usr/bin/cnnc" ] &&
   grep -q '^prefix=/usr$' "$T/stage/usr/lib/pkgconfig/cnnrt.pc" &&
   mk B="$B" uninstall DESTDIR="$T/stage" PREFIX=/usr >>"$T/stage.log" 2>&1 &&
   [ -z "$(find "$T/stage" ! -type d)" ]; then
    ok "DESTDIR=\$T/stage PREFIX=/usr stages an install, and uninstall empties it"
else
    no "DESTDIR staging"; cat "$T/stage.log"; find "$T/stage" ! -type d
fi
if mk B="$B" uninstall PREFIX="$P" >"$T/uninstall.log" 2>&1; then
    left=$(find "$P" ! -type d)
    [ -z "$left" ] && ok "make uninstall removes every installed file" || no "left after uninstall: $left"
else
    no "make uninstall"; cat "$T/uninstall.log"
fi
finish
