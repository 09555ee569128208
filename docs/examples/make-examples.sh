#!/usr/bin/env bash
# The example pages and their screenshots, from a fresh clone (ragperf installed with its demo and
# profiler extras, Debian's chromium for the screenshots):
#
#     bash docs/examples/make-examples.sh
#
# run.html    the demo pipeline, 60 queries under pyinstrument
# diff.html   ragperf diff of two runs of tests/data/pipelines/slowdown, rerank's scorer 2.5x slower in the second
# load.html   a rate ramp of that pipeline, 4 rates
# leak.html   a 40-iteration leak check of the demo with its deliberate leak
set -euo pipefail
cd "$(dirname "$0")/../.."
out=docs/examples
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
slow=tests/data/pipelines/slowdown/slowdown.toml

# The run file stays beside its page (its native profile in run.artifacts/, linked from the page, is not committed).
ragperf run configs/demo.toml -b pyinstrument -n 60 -o "$out/run.json" --no-progress > /dev/null
ragperf report "$out/run.json" -o "$out/run.html"

ragperf run "$slow" -b pyinstrument -n 40 -o "$work/base.json" --no-progress > /dev/null
RAGPERF_TEST_SLOWDOWN=2.5 ragperf run "$slow" -b pyinstrument -n 40 -o "$work/new.json" --no-progress > /dev/null
(cd "$work" && ragperf diff base.json new.json -f html -o diff.html > /dev/null) || true  # exit 1: a regression
mv "$work/diff.html" "$out/diff.html"

ragperf load "$slow" --ramp 10:40:10 --duration 4 --workers 2 -o "$work/load.json" --no-progress > /dev/null
ragperf report "$work/load.json" -o "$out/load.html"

ragperf leak src/ragperf_demo/demo-leaky.toml --iterations 40 -o "$work/leak.json" > /dev/null
ragperf report "$work/leak.json" -o "$out/leak.html"

for page in run:1280,5200 diff:1280,2600 load:1280,1900 leak:1280,1900; do
    name=${page%%:*}
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="${page#*:}" \
        --screenshot="$out/$name.png" "file://$PWD/$out/$name.html" 2> /dev/null
done
