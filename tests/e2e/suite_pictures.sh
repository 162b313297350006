#!/bin/sh
# tests/e2e/suite_pictures.sh BUILD — the pictures: cnnc --dot and cnnc-train's plot.
#   - cnnc --dot of every example renders with Graphviz (dot -Tsvg), has one
#     node per layer of --report=json with its name, and is deterministic;
#   - what the inference passes remove is marked: resnet20's batchnorms
#     "folded into" their convs, relus "fused into" convs and adds, flatten a
#     no-op; densenet121's norm1 (after a concat) stays, its norm2 folds;
#   - scopes are nested clusters; -o FILE.dot matches stdout; odd characters
#     in a file name are escaped; the large networks render in good time;
#   - a short training run writes a valid SVG with a point per epoch and
#     series, beside --save by default or at --plot.
set -u
. "$(dirname "$0")/../lib.sh"
have_xmllint=false
command -v xmllint >/dev/null 2>&1 && have_xmllint=true
valid_svg() {  # valid_svg FILE: well-formed XML with an <svg> root
    if $have_xmllint; then xmllint --noout "$1" 2>/dev/null
    else grep -q '<svg ' "$1" && tail -n 1 "$1" | grep -q '</svg>'; fi
}

# 1. every example: renders, names every layer, deterministic
for net in dsl_examples/*.net; do
    n=$(basename "$net" .net)
    if ! "$CNNC" "$net" --dot >"$T/$n.dot" 2>"$T/$n.err"; then no "$n: cnnc --dot failed"; cat "$T/$n.err"; continue; fi
    start=$(date +%s)
    if ! dot -Tsvg "$T/$n.dot" -o "$T/$n.svg" 2>"$T/$n.derr" || [ -s "$T/$n.derr" ]; then
        no "$n: dot -Tsvg failed or warned"; head -5 "$T/$n.derr"; continue
    fi
    secs=$(($(date +%s) - start))
    valid_svg "$T/$n.svg" || { no "$n: dot's SVG is not valid XML"; continue; }
    "$CNNC" "$net" --report=json >"$T/$n.json"
    python3 -c 'import json, sys
for l in json.load(open(sys.argv[1]))["layers"]: print(l["name"])' "$T/$n.json" >"$T/$n.names"
    missing=0
    while read -r name; do
        grep -qF "<B>$name</B>" "$T/$n.dot" || { missing=$((missing + 1)); echo "  $n: no node for $name"; }
    done <"$T/$n.names"
    nodes=$(grep -cE '^ *n[0-9]+ \[' "$T/$n.dot")
    layers=$(($(wc -l <"$T/$n.names") + 1))
    "$CNNC" "$net" --dot | cmp -s - "$T/$n.dot" || { no "$n: --dot output differs between two runs"; continue; }
    if [ "$missing" -eq 0 ] && [ "$nodes" -eq "$layers" ]; then
        ok "$n: $nodes nodes (input + every layer by name), renders in ${secs}s, deterministic"
    else
        no "$n: $missing layer names missing, $nodes nodes for $layers layers"
    fi
    [ "$secs" -le 60 ] || no "$n: dot took ${secs}s"
done

# 2. folded markers
line_of() { grep -F "<B>$2</B>" "$T/$1.dot"; }
bad=0
for bn in $(python3 -c 'import json, sys
for l in json.load(open(sys.argv[1]))["layers"]:
    if l["kind"] == "batchnorm": print(l["name"])' "$T/resnet20.json"); do
    conv=$(python3 -c 'import json, sys
d = {l["name"]: l for l in json.load(open(sys.argv[1]))["layers"]}
print(d[sys.argv[2]]["inputs"][0])' "$T/resnet20.json" "$bn")
    line_of resnet20 "$bn" | grep -qF "folded into $conv<" || { bad=$((bad + 1)); echo "  $bn not folded into $conv"; }
done
[ "$bad" -eq 0 ] && ok "resnet20: all 21 batchnorms drawn folded into their convs" || no "resnet20: $bad batchnorms not marked folded"
if line_of resnet20 layer1.0.relu | grep -q 'dashed.*fused into layer1.0.conv1<' &&
   line_of resnet20 layer1.0.relu_2 | grep -q 'fused into layer1.0.add<' &&
   line_of resnet20 flatten | grep -q 'no-op at inference' &&
   ! line_of resnet20 layer1.0.conv1 | grep -q dashed &&
   ! line_of resnet20 layer2.0.shortcut.0 | grep -q dashed; then
    ok "resnet20: relus fused into conv/add, flatten a no-op, convs and the projection shortcut kept"
else
    no "resnet20: fused/no-op/kept markers wrong"
fi
if ! line_of densenet121 features.denseblock1.denselayer1.norm1 | grep -q dashed &&
   line_of densenet121 features.denseblock1.denselayer1.norm2 | grep -qF 'folded into features.denseblock1.denselayer1.conv1<'; then
    ok "densenet121: norm1 after a concat kept, norm2 folded into conv1"
else
    no "densenet121: norm1/norm2 markers wrong"
fi
if line_of lenet5 c1 | grep -qF 'conv 5×5 +tanh' && [ "$(grep -c "class=\"folded\"" "$T/lenet5.dot")" -eq 1 ] &&
   line_of lenet5 flatten | grep -q dashed; then
    ok "lenet5: the fused tanh shows in the kind, only flatten is dashed"
else
    no "lenet5: kind or dashed nodes wrong"
fi

# 3. clusters, edges, -o, escaping
clusters=$(grep -c 'subgraph cluster_' "$T/resnet20.dot")
if [ "$clusters" -eq 14 ] && grep -qF 'label=<<B>layer2.0.shortcut</B>>' "$T/resnet20.dot" &&
   awk '/subgraph cluster_/ { d++; if (d > m) m = d } /^ *}$/ { d-- } END { exit !(m == 3) }' "$T/resnet20.dot"; then
    ok "resnet20: 14 clusters (layer1-3, 9 blocks, 2 shortcuts), nested 3 deep"
else
    no "resnet20: $clusters clusters, or not nested as the names"
fi
adds=$(grep -c 'color="#d0602a" penwidth' "$T/resnet20.dot")
cats=$(grep -c 'color="#1f9e89" penwidth' "$T/googlenet.dot")
[ "$adds" -eq 18 ] && [ "$cats" -eq 36 ] && ok "edges into adds (18) and concats (36) drawn in their colours" ||
    no "$adds edges into adds (want 18), $cats into concats (want 36)"
if "$CNNC" dsl_examples/resnet20.net --dot -o "$T/o.dot" && cmp -s "$T/o.dot" "$T/resnet20.dot" &&
   ! ls "$T"/o.dot.tmp* >/dev/null 2>&1; then
    ok "-o FILE.dot writes what stdout gets, no temporary left"
else
    no "-o FILE.dot differs from stdout or left a temporary"
fi
odd="$T/we\"ird & <odd>.net"
cp dsl_examples/lenet5.net "$odd"
if "$CNNC" "$odd" --dot >"$T/odd.dot" && dot -Tsvg "$T/odd.dot" -o "$T/odd.svg" 2>"$T/odd.err" &&
   [ ! -s "$T/odd.err" ] && valid_svg "$T/odd.svg" && grep -qF 'we&quot;ird &amp; &lt;odd&gt;.net' "$T/odd.dot"; then
    ok "a file name with \" & < > is escaped and renders"
else
    no "a file name with \" & < > breaks the picture"; head -3 "$T/odd.err"
fi

# 4. the training plot
TR="$TRAIN dsl_examples/lenet_relu.net --data $DATA --batch 64 --opt adam --lr 1e-3 --limit-train 1280 --limit-test 200 --seed 3 --quiet"
count() { grep -o "class=\"pt $2\"" "$1" | wc -l; }
if $TR --epochs 2 --save "$T/a.st" --plot "$T/curves.svg" 2>"$T/a.err"; then
    f="$T/curves.svg"
    if valid_svg "$f" && [ "$(count "$f" train-loss)" -eq 2 ] && [ "$(count "$f" train-acc)" -eq 2 ] &&
       [ "$(count "$f" test-acc)" -eq 2 ] && grep -q 'class="series running-loss"' "$f" &&
       grep -qF 'lenet_relu — adam, lr 0.001, batch 64' "$f" && grep -q '>epoch<' "$f" &&
       grep -q 'class="legend"' "$f" && ! ls "$T"/curves.svg.tmp* >/dev/null 2>&1; then
        ok "a 2-epoch run plots 2 points per series, running loss, title, axes and legends (valid SVG)"
    else
        no "the plot of a 2-epoch run is wrong"; head -c 600 "$f"
    fi
    # the default place, beside --save, and resuming keeps the earlier epochs
    if $TR --epochs 3 --save "$T/a.st" --resume "$T/a.st" 2>>"$T/a.err" && valid_svg "$T/a.st.svg" &&
       [ "$(count "$T/a.st.svg" test-acc)" -eq 3 ]; then
        ok "a resumed run writes FILE.svg beside --save with all 3 epochs"
    else
        no "no FILE.svg beside --save, or the resumed plot lost epochs"
    fi
else
    no "cnnc-train failed"; cat "$T/a.err"
fi

finish
