#!/bin/bash
# Guest script: lists the kernel features the data plane could use that differ between the
# supported kernels, as the kernel itself reports them (kallsyms, BTF, config), for the support
# table in docs/kernels.md. Informational: it fails only when the kernel cannot be inspected.
#
#   vm/run.sh --kernel 6.12-rt --script vm/kernel-features.sh
set -uo pipefail
have_sym() { grep -qE " $1\$" /proc/kallsyms; }
yesno() { if "$@"; then echo yes; else echo no; fi; }
[ -r /proc/kallsyms ] || {
	echo "kernel-features: /proc/kallsyms is not readable"
	exit 1
}
btf=/sys/kernel/btf/vmlinux
# A kfunc must be in the kernel's BTF. Not `bpftool | grep -q`: grep's early exit would fail the
# pipeline (SIGPIPE, pipefail) and report "no".
have_btf() { [ -r "$btf" ] && bpftool btf dump file "$btf" 2>/dev/null | grep -c "FUNC '$1'" >/dev/null; }

echo "kernel: $(uname -r) ($(uname -v))"
is_rt() { [[ $(uname -v) == *PREEMPT_RT* ]]; }
echo "preempt_rt: $(yesno is_rt)"
# tcx: BPF_TCX_INGRESS/EGRESS links (6.6), owned by a bpf_link another tool cannot replace
echo "tcx_links: $(yesno have_sym tcx_prog_attach)"
# BPF crypto kfuncs (6.10): bpf_crypto_ctx_create + bpf_crypto_encrypt/decrypt, skcipher only
echo "bpf_crypto_kfuncs: $(yesno have_btf bpf_crypto_ctx_create) (kallsyms: $(yesno have_sym bpf_crypto_ctx_create))"
# what the loader uses today (netlink clsact + cls_bpf), on every kernel
echo "cls_bpf: $(yesno modprobe -q cls_bpf)"
echo "jit: $(cat /proc/sys/net/core/bpf_jit_enable 2>/dev/null || echo '?')"
exit 0
