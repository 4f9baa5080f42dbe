#!/usr/bin/env bash
# Runs the quickstart as README.md tells a new user to, then writes the
# commands, the table `runner table` printed and the figure `runner plot`
# drew (copied to docs/quickstart/) into README.md between the
# `quickstart-table` markers. Extra arguments go to `runner run`
# (e.g. --allow-dirty).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runner=./target/release/runner
start=$(date +%s)
"$runner" run experiments/quickstart.yaml --quiet "$@"
took=$(( $(date +%s) - start ))
table=$("$runner" table experiments/quickstart.yaml)
figure=$("$runner" plot experiments/quickstart.yaml | grep 'owa_vs_tokens_generated.png$')
mkdir -p docs/quickstart
cp "$figure" docs/quickstart/owa_vs_tokens_generated.png
commit=$(git rev-parse --short=12 HEAD)
block=$(printf '%s\n' \
  "Produced by \`scripts/readme_quickstart.sh\` at commit \`$commit\` ($took s for \`runner run\` on this machine):" \
  '' \
  '```sh' \
  'runner run experiments/quickstart.yaml' \
  'runner table experiments/quickstart.yaml' \
  'runner plot experiments/quickstart.yaml     # prints the figure files' \
  '```' \
  '' \
  "$table" \
  '' \
  "The figure \`runner plot\` drew (\`${figure#"$PWD/"}\`, copied to \`docs/quickstart/\`):" \
  '' \
  '![OWA against generated tokens, per method (M3)](docs/quickstart/owa_vs_tokens_generated.png)')
BLOCK="$block" python3 - <<'PY'
import os, re
path = "README.md"
text = open(path, encoding="utf-8").read()
begin, end = "<!-- quickstart-table:begin -->", "<!-- quickstart-table:end -->"
if begin not in text or end not in text:
    raise SystemExit(f"{path}: the {begin} and {end} markers are missing")
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
open(path, "w", encoding="utf-8").write(head + begin + "\n" + os.environ["BLOCK"] + "\n" + end + tail)
PY
echo "README.md: quickstart table updated"
