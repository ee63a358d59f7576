#!/usr/bin/env bash
# The iommukit command: exit codes (0 ok, 1 failed, 2 usage), help text, and
# JSON that parses and carries the fields the text report shows.
# usage: tool_cli.sh PATH_TO_IOMMUKIT
set -u
tool=$1
fails=0
checks=0
out=/tmp/ik_tool_out.$$
small=(--frames 2 --width 64 --height 48)
expect() { # expect CODE ARGS...
	local want=$1; shift
	checks=$((checks + 1))
	"$tool" "$@" >$out 2>&1
	local got=$?
	if [ "$got" != "$want" ]; then
		echo "FAIL: iommukit $* exited $got, want $want"; cat $out; fails=$((fails + 1))
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
expect 2 run --width 66          # not a multiple of 4
expect 2 run --width 8192
expect 2 run --height 47         # odd
expect 2 run --height 8
expect 2 run --tlb 0
expect 2 run --tlb 33            # the OMAP MMU has 32 entries at most
expect 2 run --iommu smmu --tlb 5000
expect 2 run --iommu bogus
expect 2 run --strict --lazy
expect 2 run --drop-sync bogus
expect 2 run --bogus
expect 2 run extra-argument
expect 2 dump --bogus
expect 0 run                     # the main job, as it is
expect 0 run "${small[@]}"
expect 0 run "${small[@]}" --strict
expect 0 run "${small[@]}" --lazy
expect 0 run "${small[@]}" --tlb 4
expect 0 run "${small[@]}" --iommu omap --tlb 32
expect 0 run "${small[@]}" --iommu smmu
expect 0 run "${small[@]}" --iommu smmu --lazy --tlb 16
expect 1 run "${small[@]}" --drop-sync lsc   # a missing sync corrupts the frames
expect 1 run --frames 6 --width 64 --height 48 --drop-sync raw
expect 0 dump

"$tool" run "${small[@]}" >$out 2>&1
checks=$((checks + 1))
grep -q "frames corrupted  *0" $out || { echo "FAIL: run shows no frame count"; fails=$((fails + 1)); }
"$tool" dump >$out 2>&1
checks=$((checks + 2))
grep -q "supersection" $out || { echo "FAIL: dump shows no supersection"; fails=$((fails + 1)); }
grep -q "domain of iva" $out || { echo "FAIL: dump shows no IVA domain"; fails=$((fails + 1)); }

if command -v python3 >/dev/null; then
	json_check() { # json_check NAME PYTHON_ASSERTIONS ARGS...
		local name=$1 code=$2; shift 2
		checks=$((checks + 1))
		"$tool" "$@" --json | python3 -c "import json, sys
r = json.load(sys.stdin)
$code" || { echo "FAIL: $name"; fails=$((fails + 1)); }
	}
	json_check "dump --json" '
assert r["machine"] == "omap3"
sizes = sorted({m["size"] for dom in r["domains"] for m in dom["mappings"]})
assert sizes == [4096, 65536, 1048576, 16777216], sizes
' dump
	json_check "run --json" '
assert r["result"] == "ok", r
assert r["frames"] == 3 and r["frames_ok"] == 3 and r["frames_bad"] == 0, r
assert all(v == 0 for v in r["checks_failed"].values()), r
s = r["setup"]
assert s["machine"] == "omap3" and s["iommu"] == "isp-mmu" and s["device"] == "isp", s
assert s["domain"].startswith("strict") and s["tlb_entries"] == 8, s
assert s["width"] == 64 and s["height"] == 48 and s["out_width"] == 32 and s["out_height"] == 24
assert s["streams"] == 2 and s["power_cycles"] == 1, s
assert r["bytes_moved"] == r["bytes_read"] + r["bytes_written"] > 0, r
assert sorted(r["maps"]) == ["16M", "1M", "4K", "64K"], r["maps"]
assert r["maps"]["4K"] > 0 and r["unmaps"]["4K"] > 0, r
assert r["faults"] == 0 and r["outside_window"] == 0, r
t = r["iotlb"]
assert t["stale_accesses"] == 0 and t["walks"] > 0 and t["faults"] == 0, t
assert t["hits"] + t["misses"] == t["translations"], t
assert r["cpu_cache"]["misses"] > 0, r
assert r["wall_seconds"] > 0 and r["frames_per_second"] > 0, r
' run --frames 3 --width 64 --height 48
	json_check "run --lazy --tlb 4 --json" '
assert r["frames_ok"] == 2 and r["setup"]["domain"].startswith("lazy"), r
assert r["setup"]["tlb_entries"] == 4, r
' run "${small[@]}" --lazy --tlb 4
	json_check "run --iommu smmu --json" '
assert r["frames_ok"] == 2 and r["frames_bad"] == 0, r
s = r["setup"]
assert s["machine"] == "smmu" and s["device"] == "cam0" and s["iommu"] == "smmu", s
assert s["power_cycles"] == 0, s
assert "cpu_cache" not in r, r          # a coherent machine has no CPU cache model
assert {"4K", "2M", "1G"} <= set(r["maps"]), r["maps"]
assert r["iotlb"]["stale_accesses"] == 0, r
' run "${small[@]}" --iommu smmu
	json_check "run --drop-sync lsc --json" '
assert r["result"] == "failed" and r["frames_bad"] == 2, r
assert r["setup"]["dropped_sync"] == "lsc", r
' run "${small[@]}" --drop-sync lsc
fi
rm -f $out
echo "$(( checks - fails )) passed, $fails failed"
[ "$fails" = 0 ]
