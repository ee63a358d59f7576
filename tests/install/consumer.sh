#!/usr/bin/env bash
# Install the built tree into a scratch prefix, then build and run a consumer
# program against it with nothing but pkg-config.
# usage: consumer.sh BUILD_DIR CC CONSUMER_C [SANITIZERS]
set -euo pipefail
build=$1 cc=$2 src=$3 san=${4:-}
command -v pkg-config >/dev/null || { echo "pkg-config not installed: skipped"; exit 77; }
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
pcdir=$(dirname "$(find "$prefix" -name iommukit.pc | head -n1)")
flags=()
[ -n "$san" ] && flags=(-fsanitize="$san")
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Wextra -Werror "${flags[@]}" -o "$prefix/consumer" "$src" \
	$(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs iommukit)
libdir=$(PKG_CONFIG_PATH="$pcdir" pkg-config --variable=libdir iommukit)
LD_LIBRARY_PATH="$libdir" "$prefix/consumer"
# The exported ABI carries only the project prefix.
if nm -D --defined-only "$libdir/libiommukit.so" | awk '{print $3}' | grep -v '^ik_' | grep -v '^IOMMUKIT_'; then
	echo "symbols exported without the ik_ prefix (above)"; exit 1
fi
readelf -d "$libdir/libiommukit.so" | grep -q 'SONAME.*libiommukit.so.0' || { echo "bad soname"; exit 1; }
echo "install/pkg-config consumer: ok"
