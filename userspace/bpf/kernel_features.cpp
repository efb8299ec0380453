// SPDX-License-Identifier: Apache-2.0
#include "bpf/kernel_features.h"

#include <cerrno>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "bpf/libbpf_log.h"

namespace spsec {

Result<bool> crypto_kfuncs_available()
{
	btf* vmlinux = nullptr;
	{
		const LibbpfSilencer quiet;  // libbpf names every path it tried
		vmlinux = btf__load_vmlinux_btf();
	}
	if (vmlinux == nullptr)
		return fail_errno(errno,
		                  "reading the kernel's BTF to probe for the BPF crypto kfuncs");
	// All three are needed: the context is created once, frames use encrypt/decrypt.
	bool all = true;
	for (const char* f : {"bpf_crypto_ctx_create", "bpf_crypto_encrypt", "bpf_crypto_decrypt"})
		all = all && btf__find_by_name_kind(vmlinux, f, BTF_KIND_FUNC) > 0;
	btf__free(vmlinux);
	return all;
}

}  // namespace spsec
