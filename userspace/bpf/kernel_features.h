// SPDX-License-Identifier: Apache-2.0
// Kernel features the data plane could use, probed at load time (never chosen at build time).
// tcx is probed where it is used: tc_attachment.h, tcx_supported().
#pragma once

#include "spsec/result.h"

namespace spsec {

// Whether the kernel offers the BPF crypto kfuncs (Linux >= 6.10: bpf_crypto_ctx_create,
// bpf_crypto_encrypt/decrypt), by their presence in the kernel's BTF (/sys/kernel/btf/vmlinux).
// Reported only: the data plane does not use them yet (docs/kernels.md says what it would
// take). Errors: the kernel's BTF cannot be read (no CONFIG_DEBUG_INFO_BTF).
[[nodiscard]] Result<bool> crypto_kfuncs_available();

}  // namespace spsec
