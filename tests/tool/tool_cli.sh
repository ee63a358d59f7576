#!/usr/bin/env bash
# The iommukit command: exit codes (0 ok, 1 failed, 2 usage), help text, and
# JSON that parses and carries the fields the text report shows.
# usage: tool_cli.sh PATH_TO_IOMMUKIT
set -u
tool=$1
fails=0
checks=0
expect() { # expect CODE ARGS...
	local want=$1; shift
	checks=$((checks + 1))
	"$tool" "$@" >/tmp/ik_tool_out.$$ 2>&1
	local got=$?
	if [ "$got" != "$want" ]; then
		echo "FAIL: iommukit $* exited $got, want $want"; cat /tmp/ik_tool_out.$$; fails=$((fails + 1))
	fi
}
expect 0 --help
expect 2
expect 2 bogus
expect 0 run --help
expect 0 dump --help
expect 2 run --frames 0
expect 2 run --frames abc
expect 2 run --width 8
expect 2 run extra-argument
expect 2 dump --bogus
expect 0 run --frames 2 --width 64 --height 32
expect 0 dump

"$tool" dump >/tmp/ik_tool_out.$$ 2>&1
checks=$((checks + 2))
grep -q "supersection" /tmp/ik_tool_out.$$ || { echo "FAIL: dump shows no supersection"; fails=$((fails + 1)); }
grep -q "domain of iva" /tmp/ik_tool_out.$$ || { echo "FAIL: dump shows no IVA domain"; fails=$((fails + 1)); }

if command -v python3 >/dev/null; then
	checks=$((checks + 2))
	"$tool" dump --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["machine"] == "omap3"
sizes = sorted({m["size"] for dom in d["domains"] for m in dom["mappings"]})
assert sizes == [4096, 65536, 1048576, 16777216], sizes
' || { echo "FAIL: dump --json"; fails=$((fails + 1)); }
	"$tool" run --frames 3 --json | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["frames"] == 3 and r["frames_ok"] == 3 and r["frames_bad"] == 0, r
assert r["iotlb"]["stale_accesses"] == 0 and r["iotlb"]["walks"] > 0, r
' || { echo "FAIL: run --json"; fails=$((fails + 1)); }
fi
rm -f /tmp/ik_tool_out.$$
echo "$(( checks - fails )) passed, $fails failed"
[ "$fails" = 0 ]
