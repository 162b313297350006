#!/bin/sh
# scripts/size.sh BUILD — `make size`: the Cortex-M4 footprint of the C cnnc
# generates for lenet5, convnetjs_mnist and resnet20 (seed 1), as a table:
#
#   flash  text + rodata + data of the model's object (Berkeley text + data)
#   RAM    data + bss of the model's object (all its writable memory)
#   peak   totals.activation_bytes_peak of cnnc --report=json
#   stack  the deepest call chain from NAME_forward (NAME_forward_ctx, the
#          layers gcc did not inline, the kernels they call: gemm, tile,
#          im2col, winograd transforms), each function's frame summed along
#          the path; from gcc's -fcallgraph-info=su, so inlining is counted
#          as it happened.  Library calls (memset, memcpy, expf, ...) are
#          not counted: newlib's frames are not in the graph.
#
# The model is compiled alone at -Os for the M4 (hard float); nothing is
# written into the repository.
CM_FLAGS=${CM_FLAGS:---target cortex-m}   # cnnc's options for the M4
set -u
. "$(dirname "$0")/../tests/lib.sh"
need_built "$CNNC"
CC="arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -Os -std=c99"
for tool in arm-none-eabi-gcc arm-none-eabi-size; do
    command -v $tool >/dev/null || { echo "size: $tool not found (scripts/deps.sh)"; exit 1; }
done

# chain FILE.ci ROOT: "BYTES a > b > c", the costliest call path from ROOT
chain() {
    awk -F'"' -v root="$2" '
        /^node:/ { n = split($4, l, "\\\\n"); name[$2] = l[1]
                   frame[$2] = (l[n] ~ / bytes /) ? l[n] + 0 : 0 }
        /^edge:/ { succ[$2] = succ[$2] " " $4 }
        function deepest(f,   k, i, s, best, d) {
            if (f in memo) return memo[f]
            memo[f] = frame[f]; path[f] = name[f]          # a cycle stops here
            k = split(succ[f], s, " ")
            for (i = 1; i <= k; i++)
                if ((d = deepest(s[i])) > best) { best = d; path[f] = name[f] " > " path[s[i]] }
            return memo[f] = frame[f] + best
        }
        END { if (!(root in name)) exit 1; print deepest(root), path[root] }' "$1"
}

printf '%-16s %9s %9s %9s %7s  %s\n' network flash_B RAM_B peak_B stack_B "deepest chain (stack)"
for name in lenet5 convnetjs_mnist resnet20; do
    d=$T/$name
    mkdir -p "$d"
    # shellcheck disable=SC2086
    "$CNNC" "dsl_examples/$name.net" --seed 1 $CM_FLAGS -o "$d/$name.c" || exit 1
    (cd "$d" && $CC -fstack-usage -fcallgraph-info=su -c "$name.c" -o model.o) || exit 1
    sizes=$(arm-none-eabi-size "$d/model.o" | awk 'NR == 2 { print $1 + $2, $2 + $3 }')
    peak=$("$CNNC" "dsl_examples/$name.net" --report=json | $PY -c \
        'import json, sys; print(json.load(sys.stdin)["totals"]["activation_bytes_peak"])') || exit 1
    stack=$(chain "$d/model.ci" "${name}_forward") || { echo "size: no ${name}_forward in model.ci"; exit 1; }
    printf '%-16s %9s %9s %9s %7s  %s\n' "$name" "${sizes% *}" "${sizes#* }" "$peak" "${stack%% *}" "${stack#* }"
done
