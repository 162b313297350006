#!/bin/sh
# tests/e2e/suite_example_app.sh BUILD — examples/fashion, built as its README
# says: cnnc installed into a temporary prefix (make install), then the
# example's own Makefile (train → compile the checkpoint → build classify)
# in a copy of the folder, on a small subset of Fashion-MNIST (one epoch of
# 2048 training images, 1000 test images).  Checks that classify builds
# warning-free, prints an accuracy equal to the trainer's own test accuracy
# (within 0.1 points) and a 10x10 confusion matrix with the class names
# whose cells add up to the images classified.
set -u
. "$(dirname "$0")/../lib.sh"
NTEST=1000

if ! mk B="$B" install PREFIX="$T/usr" >"$T/install.log" 2>&1; then
    no "make install"; cat "$T/install.log"; finish
fi
cp -r examples/fashion "$T/fashion"
rm -f "$T/fashion/classify" "$T/fashion/lenet_relu."*
cd "$T/fashion" || exit 1
unset CNNC_TEMPLATE_DIR
export PATH="$T/usr/bin:/usr/bin:/bin" PKG_CONFIG_PATH="$T/usr/lib/pkgconfig" LD_LIBRARY_PATH="$T/usr/lib"

if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make NET="$REPO/dsl_examples/lenet_relu.net" DATA="$DATA" EPOCHS=1 \
        TRAIN_FLAGS="--limit-train 2048 --limit-test $NTEST --seed 5 --quiet" \
        CFLAGS="-O2 -std=c99 -Wall -Wextra -Wpedantic -Werror" >make.log 2>&1; then
    ok "make: cnnc-train, cnnc --weights, cc classify.c lenet_relu.c \$(pkg-config ...), warning-free"
else
    no "the example's Makefile"; cat make.log; finish
fi
[ -s lenet_relu.weights ] && ok "the weights went to the sidecar lenet_relu.weights" || no "no sidecar weights"

if ./classify -d "$DATA" -n $NTEST >out 2>err; then
    ok "classify ran"
else
    no "classify failed"; cat err; finish
fi
cat out
acc=$(sed -n 's/^accuracy: \([0-9.]*\)% (\([0-9]*\) of \([0-9]*\) test images)$/\1/p' out)
n=$(sed -n 's/^accuracy: .* of \([0-9]*\) test images)$/\1/p' out)
tacc=$(tail -n 1 lenet_relu.safetensors.csv | cut -d, -f6)
if [ -n "$acc" ] && [ "$n" = $NTEST ] &&
   awk "BEGIN { d = $acc - $tacc; if (d < 0) d = -d; exit !(d <= 0.1) }"; then
    ok "classify's accuracy $acc% equals the trainer's test accuracy $tacc% (within 0.1 points)"
else
    no "classify printed '$acc' on '$n' images, the trainer $tacc% on $NTEST"
fi

# the confusion matrix: 10 rows named after the classes, 10 counts each, adding up to N
correct=$(sed -n 's/^accuracy: .* (\([0-9]*\) of .*/\1/p' out)
awk -v n=$NTEST -v correct="$correct" '
    BEGIN { split("T-shirt/top|Trouser|Pullover|Dress|Coat|Sandal|Shirt|Sneaker|Bag|Ankle boot", name, "|") }
    /^[0-9] [A-Z]/ {
        k = $1 + 1; rows++
        if (index($0, name[k]) == 0) { print "row " $1 " lacks " name[k]; bad = 1 }
        line = substr($0, 16)
        m = split(line, f, " ")
        if (m != 11) { print "row " $1 " has " m " fields"; bad = 1 }
        for (i = 1; i <= 10; i++) { sum += f[i]; if (i == k) diag += f[i] }
    }
    END {
        if (rows != 10 || sum != n || diag != correct) {
            print rows " rows, " sum " images, " diag " on the diagonal for " correct " correct"; bad = 1
        }
        exit bad
    }' out >matrix.err
if [ $? -eq 0 ]; then
    ok "a 10x10 confusion matrix with the class names: $NTEST images, $correct on the diagonal"
else
    no "confusion matrix: $(cat matrix.err)"
fi
finish
