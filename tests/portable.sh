#!/usr/bin/env bash
# make test-portable (opt-in, not in CI): the unit tests and strict nbval once per emulated
# machine, to check that nothing the course prints or asserts depends on which BLAS kernel or
# SIMD level does the arithmetic (issue 11). Each variant is one environment setting:
#   OPENBLAS_CORETYPE=Haswell    AVX2 laptops and desktops
#   OPENBLAS_CORETYPE=Prescott   generic x86-64 (SSE3; OpenBLAS reports it as "Katmai")
#   OPENBLAS_CORETYPE=SkylakeX   AVX-512 (faults on a CPU without avx512f: skipped there)
#   NPY_DISABLE_CPU_FEATURES     NumPy's own SIMD dispatch limited to AVX2 (X86_V3)
# A smoke check runs first in each variant (a matmul checked against an einsum, and the OpenBLAS
# kernel / NumPy features actually in use read back through threadpoolctl / NumPy); a variant the
# CPU cannot run, or that fails the smoke check, is SKIPPED with the reason printed. Exit status
# is non-zero if any variant that ran had a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
ARTIFACTS=test-artifacts/portable
# The notebook kernels must import this checkout's gmm_helpers, even when .venv's editable
# install points at another checkout (a shared or symlinked venv).
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$ARTIFACTS"

# name | environment assignment | kernels OpenBLAS may report for it | /proc/cpuinfo flag it needs
VARIANTS=(
  "openblas-haswell|OPENBLAS_CORETYPE=Haswell|Haswell|avx2"
  "openblas-prescott|OPENBLAS_CORETYPE=Prescott|Prescott Katmai|pni"
  "openblas-skylakex|OPENBLAS_CORETYPE=SkylakeX|SkylakeX|avx512f"
  "numpy-avx2|NPY_DISABLE_CPU_FEATURES=X86_V4 AVX512_ICL||avx2"
)

# Runs under the variant's environment; prints what it saw, exit 0 only if the variant is live.
SMOKE='
import os, sys
import numpy as np
import threadpoolctl
a = np.random.default_rng(0).standard_normal((300, 300))
err = np.abs(a @ a - np.einsum("ij,jk->ik", a, a)).max()
if not err < 1e-10:
    sys.exit(f"matmul differs from einsum by {err:.1e}")
arch = [i.get("architecture") for i in threadpoolctl.threadpool_info()
        if i.get("internal_api") == "openblas"]
want = sys.argv[1].split()
if want and not set(arch) & set(want):
    sys.exit(f"OpenBLAS runs kernel {arch}, not the requested {want}")
from numpy._core._multiarray_umath import __cpu_features__ as feats
if "NPY_DISABLE_CPU_FEATURES" in os.environ and (feats.get("X86_V4") or feats.get("AVX512F")):
    sys.exit("NumPy still dispatches AVX-512 code")
simd = "AVX-512" if feats.get("AVX512F") else "AVX2" if feats.get("AVX2") else "SSE"
print(f"smoke ok: OpenBLAS kernel {arch}, NumPy SIMD up to {simd}, matmul error {err:.1e}")
'

cpu_flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
summary=()
failed=0
for spec in "${VARIANTS[@]}"; do
  IFS='|' read -r name assign arch flag <<<"$spec"
  echo "=== $name ($assign)"
  if [[ -n "$cpu_flags" && -n "$flag" && " $cpu_flags " != *" $flag "* ]]; then
    msg="SKIPPED: this CPU has no $flag, so $assign cannot run here"
    echo "$msg"; summary+=("$name: $msg"); continue
  fi
  smoke=$(env "$assign" "$PY" -c "$SMOKE" "$arch" 2>&1)
  src=$?
  if [[ $src -ne 0 ]]; then
    why=$(echo "$smoke" | tail -n 1)
    (( src > 128 )) && why="python killed by signal $((src - 128)) (4 = illegal instruction) $why"
    msg="SKIPPED: smoke check failed: $why"
    echo "$msg"; summary+=("$name: $msg"); continue
  fi
  echo "$smoke"
  env "$assign" "$PY" -c 'import gmm_helpers as g; print("testing", g.__file__)'
  log="$ARTIFACTS/$name.log"
  start=$(date +%s)
  env "$assign" "$PY" -m pytest tests notebooks -m "not browser" -q -p no:cacheprovider \
    --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
    --nbval-cell-timeout=300 >"$log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  result=$(grep -E '^[0-9]+ (passed|failed)|^=+ .*(passed|failed)' "$log" | tail -n 1 | tr -d '=' | xargs)
  if [[ $rc -eq 0 ]]; then status=PASS; else status=FAIL; failed=1; fi
  msg="$status: ${result:-no pytest summary, see $log} in ${secs}s"
  echo "$msg"
  [[ $rc -ne 0 ]] && grep -E '^FAILED|^ERROR' "$log" | head -n 20
  summary+=("$name: $msg")
done

echo "=== test-portable summary (logs in $ARTIFACTS/)"
printf '  %s\n' "${summary[@]}"
exit $failed
