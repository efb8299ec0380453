// SPDX-License-Identifier: Apache-2.0
// Kernel features the data plane could use, probed at load time (never chosen at build time).
// tcx is probed where it is used: tc_attachment.h, tcx_supported().
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "spsec/result.h"

namespace spsec {

// Whether the kernel offers the BPF crypto kfuncs (Linux >= 6.10: bpf_crypto_ctx_create,
// bpf_crypto_encrypt/decrypt), by their presence in the kernel's BTF (/sys/kernel/btf/vmlinux).
// load_data_plane() then loads the kernel-AES object (it also checks that the kernel can make
// an "ecb(aes)" context). Errors: the kernel's BTF cannot be read (no CONFIG_DEBUG_INFO_BTF).
[[nodiscard]] Result<bool> crypto_kfuncs_available();

// Which AES the data plane's AES-GCM uses: the T-table AES in BPF (object spsec_dp, any kernel)
// or the kernel's, through the BPF crypto kfuncs (object spsec_dp_kaes, Linux 6.10+; constant
// time where the kernel's driver is, e.g. aesni_intel). docs/kernels.md.
enum class AesImpl { Bpf, Kernel };

// "bpf" or "kernel": status, stats and the log.
[[nodiscard]] const char* aes_impl_name(AesImpl a) noexcept;

// SPSEC_AES's values: "auto" (nullopt: probe), "bpf", "kernel". Errors: anything else (EINVAL,
// the value named).
[[nodiscard]] Result<std::optional<AesImpl>> parse_aes_impl(std::string_view s);

// The driver the BPF crypto kfuncs' "ecb(aes)" resolves to, from the text of /proc/crypto: the
// driver of the highest-priority entry named "ecb(aes)" of type lskcipher (what the kfuncs make;
// any type when there is none), e.g. "ecb(aes-aesni)", "ecb(aes-fixed-time)",
// "ecb(aes-generic)"; "" when there is none (instances appear once something made one).
[[nodiscard]] std::string aes_driver_from_proc_crypto(std::string_view text);

// aes_driver_from_proc_crypto() of the running kernel's /proc/crypto; "" when unreadable.
[[nodiscard]] std::string kernel_aes_driver();

// Which object a loaded data-plane program comes from, asked of the kernel by program id (so
// also while spsecd is down): Kernel when it uses a map named spsec_kaes_ctx. Errors: no such
// program (ENOENT), no privilege (EPERM), bpf_obj_get_info_by_fd failed.
[[nodiscard]] Result<AesImpl> aes_of_program(std::uint32_t prog_id);

}  // namespace spsec
