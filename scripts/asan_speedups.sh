#!/usr/bin/env bash
# Run the compiled twins' tests (and the dedup tests that use them) with
# incidents/domain/copies/_speedups.c built under AddressSanitizer and UBSan, in a
# throw-away copy of the tree (pytest captures only at the Python level, so a
# sanitizer report reaches the terminal). For whoever changes the C file:
#   scripts/asan_speedups.sh [extra pytest args]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py="$root/.venv/bin/python"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$root/streams" "$root/connectors" "$root/schemas" "$root/tests" "$root/pyproject.toml" "$work/"
find "$work" -name '_speedups*.so' -delete
include=$("$py" -c "import sysconfig; print(sysconfig.get_paths()['include'])")
suffix=$("$py" -c "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))")
gcc -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -std=c11 -fPIC -shared \
    -I"$include" "$work/streams/domain/_speedups.c" -o "$work/streams/domain/_speedups$suffix"
cd "$work"
export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \
    ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    PYTHONMALLOC=malloc PYTHONPATH="$work"
"$py" -c "import incidents.domain.copies._speedups as s, sys; sys.exit(0 if s.__file__.startswith('$work') else 'not the sanitized build: ' + s.__file__)"
"$py" -m pytest -q -p no:cacheprovider --capture=sys tests/domain/copies/test_speedups.py tests/domain/copies/test_signatures.py \
    tests/evaluation/test_dedup_rewrites.py tests/domain/desk/test_desk.py "$@"
