// SPDX-License-Identifier: Apache-2.0
#include "bpf/kernel_features.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <vector>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "bpf/libbpf_log.h"
#include "common/fd.h"

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
	// All of them are needed: contexts are made and released by the syscall programs, frames
	// encrypt (CTR and E_K(J0) are both encryptions; decrypt is probed as the kernel's set).
	bool all = true;
	for (const char* f : {"bpf_crypto_ctx_create", "bpf_crypto_ctx_release",
	                      "bpf_crypto_encrypt", "bpf_crypto_decrypt"})
		all = all && btf__find_by_name_kind(vmlinux, f, BTF_KIND_FUNC) > 0;
	btf__free(vmlinux);
	return all;
}

const char* aes_impl_name(AesImpl a) noexcept
{
	return a == AesImpl::Kernel ? "kernel" : "bpf";
}

Result<std::optional<AesImpl>> parse_aes_impl(std::string_view s)
{
	if (s == "auto")
		return std::optional<AesImpl>();
	if (s == "bpf")
		return std::optional<AesImpl>(AesImpl::Bpf);
	if (s == "kernel")
		return std::optional<AesImpl>(AesImpl::Kernel);
	return fail_errno(EINVAL, "AES implementation '" + std::string(s) +
	                                  "' unknown (expected auto, bpf or kernel)");
}

std::string aes_driver_from_proc_crypto(std::string_view text)
{
	// Entries are blocks of "key : value" lines separated by blank lines. The BPF crypto
	// kfuncs make an lskcipher (the ecb template over the best "aes" cipher); an skcipher of
	// the same name (e.g. aesni's "ecb-aes-aesni") is another implementation, so lskcipher
	// entries win over any other type.
	std::string best[2];
	long best_prio[2] = {-1, -1};
	std::string name, driver, type;
	long prio = -1;
	auto flush = [&] {
		const int l = type == "lskcipher" ? 1 : 0;
		if (name == "ecb(aes)" && !driver.empty() && prio > best_prio[l]) {
			best[l] = driver;
			best_prio[l] = prio;
		}
		name.clear();
		driver.clear();
		type.clear();
		prio = -1;
	};
	std::size_t pos = 0;
	while (pos <= text.size()) {
		std::size_t end = text.find('\n', pos);
		if (end == std::string_view::npos)
			end = text.size();
		const std::string_view line = text.substr(pos, end - pos);
		pos = end + 1;
		const std::size_t colon = line.find(':');
		if (colon == std::string_view::npos) {
			flush();
			continue;
		}
		std::string_view key = line.substr(0, colon), value = line.substr(colon + 1);
		while (!key.empty() && key.back() == ' ')
			key.remove_suffix(1);
		while (!value.empty() && value.front() == ' ')
			value.remove_prefix(1);
		if (key == "name")
			name = value;
		else if (key == "driver")
			driver = value;
		else if (key == "type")
			type = value;
		else if (key == "priority")
			prio = std::strtol(std::string(value).c_str(), nullptr, 10);
	}
	flush();
	return best_prio[1] >= 0 ? best[1] : best[0];
}

std::string kernel_aes_driver()
{
	std::ifstream in("/proc/crypto");
	if (!in)
		return {};
	std::ostringstream text;
	text << in.rdbuf();
	return aes_driver_from_proc_crypto(text.str());
}

Result<AesImpl> aes_of_program(std::uint32_t prog_id)
{
	const Fd prog(::bpf_prog_get_fd_by_id(prog_id));
	if (!prog.valid())
		return fail_errno(errno, "opening BPF program " + std::to_string(prog_id));
	bpf_prog_info info{};
	__u32 len = sizeof info;
	if (::bpf_obj_get_info_by_fd(prog.get(), &info, &len) != 0)
		return fail_errno(errno, "inspecting BPF program " + std::to_string(prog_id));
	std::vector<__u32> ids(info.nr_map_ids);
	info = bpf_prog_info{};
	info.nr_map_ids = static_cast<__u32>(ids.size());
	info.map_ids = reinterpret_cast<std::uintptr_t>(ids.data());
	len = sizeof info;
	if (::bpf_obj_get_info_by_fd(prog.get(), &info, &len) != 0)
		return fail_errno(errno,
		                  "listing the maps of BPF program " + std::to_string(prog_id));
	ids.resize(std::min<std::size_t>(ids.size(), info.nr_map_ids));
	for (const __u32 id : ids) {
		const Fd map(::bpf_map_get_fd_by_id(id));
		if (!map.valid())
			continue;  // gone meanwhile
		bpf_map_info mi{};
		__u32 mlen = sizeof mi;
		if (::bpf_obj_get_info_by_fd(map.get(), &mi, &mlen) == 0 &&
		    std::string_view(mi.name) == "spsec_kaes_ctx")
			return AesImpl::Kernel;
	}
	return AesImpl::Bpf;
}

}  // namespace spsec
