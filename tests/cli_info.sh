#!/usr/bin/env bash
# `medcolor info` against all 16 rows of the thesis's Table 4.3 (trainable parameters per
# backbone, module and stage; the numbers below are the thesis Table 4.3, docs/modules.md).
set -u
BIN=${MC_BIN:-./medcolor}
fail=0
check() { # cfg stage expected
  got=$("$BIN" info --brief "cfg/$1.cfg" | awk -v s="$2" '/per stage/ { on = 1 } on && $1 == s { gsub(",", "", $2); print $2 }')
  if [ "$got" != "$3" ]; then
    echo "FAIL cli_info: $1 stage $2: got '$got', Table 4.3 says $3"; fail=1
  else
    printf '  %-28s %-12s %10s  ok\n' "$1" "$2" "$3"
  fi
}
check resnet18              baseline 2565
check resnet18-deconv       color    599176
check resnet18-pixelshuffle color    602005
check resnet18-coloru       color    195224
check resnet18              all      11179077
check resnet18-deconv       all      11775688
check resnet18-pixelshuffle all      11778517
check resnet18-coloru       all      11371736
check densenet121              baseline 5125
check densenet121-deconv       color    601736
check densenet121-pixelshuffle color    604565
check densenet121-coloru       color    197784
check densenet121              all      6958981
check densenet121-deconv       all      7555592
check densenet121-pixelshuffle all      7558421
check densenet121-coloru       all      7151640
# the module sizes themselves (docs/modules.md)
for m in deconv:596611 pixelshuffle:599440 coloru:192659; do
  got=$("$BIN" info --brief "cfg/resnet18-${m%%:*}.cfg" | awk '$1 == "color" { gsub(",", "", $2); print $2; exit }')
  [ "$got" = "${m##*:}" ] || { echo "FAIL cli_info: module ${m%%:*}: $got != ${m##*:}"; fail=1; }
done
# ResNet-34 (torchvision's resnet34 without fc: 21,284,672) and the colorization networks of
# Saini et al. (spec colorization-uses.md 1: 3,892,194 / 14,328,354 / 24,436,514; the U-Nets'
# encoders 11,176,512 / 21,284,672)
total() { "$BIN" info --brief "cfg/$1.cfg" | awk -v g="$2" '$1 == g { gsub(",", "", $2); print $2; exit }'; }
for row in resnet34:backbone:21284672 resnet34:total:21287237 colorize/autoencoder:total:3892194 \
           colorize/unet-resnet18:total:14328354 colorize/unet-resnet18:backbone:11176512 \
           colorize/unet-resnet34:total:24436514 colorize/unet-resnet34:backbone:21284672; do
  IFS=: read -r cf grp want <<<"$row"
  got=$(total "$cf" "$grp")
  if [ "$got" != "$want" ]; then echo "FAIL cli_info: $cf $grp: got '$got', expected $want"; fail=1
  else printf '  %-28s %-12s %10s  ok\n' "$cf" "$grp" "$want"; fi
done
"$BIN" info --brief cfg/colorize/unet-resnet18.cfg | grep -q "per stage" &&
  { echo "FAIL cli_info: an image-to-image network has no training stages"; fail=1; }
# usage errors exit 2, a broken cfg exits 1 with a file:line message
"$BIN" info >/dev/null 2>&1; [ $? -eq 2 ] || { echo "FAIL cli_info: no argument should exit 2"; fail=1; }
printf '[net]\nwidth=8\nheight=8\nchannels=1\n[maxpool]\nsise=2\n' > "$MC_TMP/bad.cfg"
msg=$("$BIN" info "$MC_TMP/bad.cfg" 2>&1); rc=$?
[ $rc -eq 1 ] && [[ "$msg" == *"bad.cfg:6: unknown key 'sise'"* ]] || { echo "FAIL cli_info: bad cfg: rc $rc: $msg"; fail=1; }
# info --system; OpenBLAS's kernels below the CPU's (a VM masking the model): where OpenBLAS runs
# the GEMMs (no AVX2: MC_TEST_NO_AVX2=1 pretends so) medcolor restarts itself once with
# OPENBLAS_CORETYPE set, unless the environment pins it or MEDCOLOR_BLAS_CORE=keep
if grep -qw avx512f /proc/cpuinfo && grep -qw avx512vl /proc/cpuinfo; then
  # the own AVX-512 GEMM runs them: no restart, OpenBLAS's choice is left and said to be unused
  sys=$(env -u OPENBLAS_CORETYPE MC_TEST_BLAS_CORE=Prescott "$BIN" info --system 2>&1)
  [[ "$sys" == *"float32 GEMM (every convolution): medcolor's own AVX-512 kernels"* &&
     "$sys" == *"OpenBLAS kernels: Prescott (not used for GEMMs here)"* ]] ||
    { echo "FAIL cli_info: --system with the own GEMM and a weak OpenBLAS core: $sys"; fail=1; }
  # without AVX-512 (MC_TEST_NO_AVX512=1 pretends so) the own AVX2 kernels run them
  sys=$(env -u OPENBLAS_CORETYPE MC_TEST_NO_AVX512=1 MC_TEST_BLAS_CORE=Prescott "$BIN" info --system 2>&1)
  [[ "$sys" == *"float32 GEMM (every convolution): medcolor's own AVX2 kernels"* &&
     "$sys" == *"OpenBLAS kernels: Prescott (not used for GEMMs here)"* ]] ||
    { echo "FAIL cli_info: --system with the own AVX2 GEMM: $sys"; fail=1; }
  sys=$(MC_CPU_GEMM=openblas "$BIN" info --system 2>&1)
  [[ "$sys" == *"float32 GEMM (every convolution): OpenBLAS"* ]] || { echo "FAIL cli_info: MC_CPU_GEMM=openblas: $sys"; fail=1; }
fi
export MC_TEST_NO_AVX2=1
sys=$(env -u OPENBLAS_CORETYPE MC_TEST_BLAS_CORE=Prescott "$BIN" info --system 2>&1); rc=$?
case "$sys" in
  *"vector instructions: AVX-512"*) want="OpenBLAS kernels: SkylakeX (medcolor set OPENBLAS_CORETYPE=SkylakeX: OpenBLAS chose Prescott" ;;
  *"vector instructions: AVX2"*) want="OpenBLAS kernels: Haswell (medcolor set OPENBLAS_CORETYPE=Haswell: OpenBLAS chose Prescott" ;;
  *) want="OpenBLAS kernels: Prescott (OpenBLAS's choice)" ;;
esac
[ $rc -eq 0 ] && [[ "$sys" == *"$want"* ]] || { echo "FAIL cli_info: --system with a weak core: rc $rc: $sys"; fail=1; }
sys=$(env -u OPENBLAS_CORETYPE MC_TEST_BLAS_CORE=Prescott MEDCOLOR_BLAS_CORE=keep "$BIN" info --system 2>&1)
[[ "$sys" == *"OpenBLAS kernels: Prescott (OpenBLAS's choice"* ]] || { echo "FAIL cli_info: MEDCOLOR_BLAS_CORE=keep: $sys"; fail=1; }
sys=$(OPENBLAS_CORETYPE=Prescott "$BIN" info --system 2>&1)
[[ "$sys" == *"OpenBLAS kernels: Prescott (OPENBLAS_CORETYPE=Prescott from the environment)"* ]] ||
  { echo "FAIL cli_info: a pinned core is kept: $sys"; fail=1; }
unset MC_TEST_NO_AVX2
# MC_CPU_GEMM takes own or openblas; anything else is refused by every command that builds a network
msg=$(MC_CPU_GEMM=fast "$BIN" info cfg/resnet18.cfg 2>&1); rc=$?
[ $rc -eq 1 ] && [[ "$msg" == *"MC_CPU_GEMM: not 'own' or 'openblas' (it is 'fast')"* ]] ||
  { echo "FAIL cli_info: MC_CPU_GEMM=fast: rc $rc: $msg"; fail=1; }
# the bf16 mode's availability, as the CPU says (MC_TEST_NO_BF16=1 pretends it lacks AVX512-BF16)
sys=$(MC_TEST_NO_BF16=1 "$BIN" info --system 2>&1)
[[ "$sys" == *"bf16 mode (--precision bf16): not available (this CPU lacks AVX512-BF16)"* ]] || { echo "FAIL cli_info: bf16 line without AVX512-BF16: $sys"; fail=1; }
if grep -qw avx512_bf16 /proc/cpuinfo; then
  sys=$("$BIN" info --system 2>&1)
  [[ "$sys" == *"bf16 mode (--precision bf16): available (AVX512-BF16)"* ]] || { echo "FAIL cli_info: bf16 line: $sys"; fail=1; }
fi
# huge pages: what the CPU backend asks for, and what the system's setting gives
sys=$(MC_CPU_HUGEPAGES=0 "$BIN" info --system 2>&1)
[[ "$sys" == *"large buffers: 4 KB pages (MC_CPU_HUGEPAGES=0)"* ]] || { echo "FAIL cli_info: MC_CPU_HUGEPAGES=0 line: $sys"; fail=1; }
sys=$(MC_CPU_HUGEPAGES=on "$BIN" info --system 2>&1)
[[ "$sys" == *"large buffers: MC_CPU_HUGEPAGES=on is not '0' or '1'"* ]] || { echo "FAIL cli_info: MC_CPU_HUGEPAGES=on line: $sys"; fail=1; }
thp=$(sed -n 's/.*\[\([a-z]*\)\].*/\1/p' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)
if [ -n "$thp" ]; then
  sys=$(env -u MC_CPU_HUGEPAGES "$BIN" info --system 2>&1)
  [[ "$sys" == *"large buffers: transparent huge pages"*"(the system's setting: $thp;"* ]] || { echo "FAIL cli_info: huge pages line ($thp): $sys"; fail=1; }
fi
"$BIN" info --system cfg/resnet18.cfg >/dev/null 2>&1; [ $? -eq 2 ] || { echo "FAIL cli_info: --system with a cfg should exit 2"; fail=1; }
[ $fail -eq 0 ] && echo "cli_info                       Table 4.3: 16 rows + 3 modules, ResNet-34, 3 colorization networks ok; --system: $(echo "$want" | cut -c1-60)..."
exit $fail
