// SPDX-License-Identifier: Apache-2.0
// Move-only RAII owner of a bpftool-generated skeleton (T is the skeleton struct, e.g.
// spsec_dp from spsec_dp.skel.h), built on the static members bpftool 7 generates for C++
// (T::open, T::load, T::destroy).
#pragma once

#include <cerrno>
#include <string>
#include <utility>

#include <bpf/libbpf.h>

#include "spsec/result.h"

namespace spsec {

template <class T> class Skeleton {
public:
	// Opens the object (no kernel objects yet). Errors: libbpf could not parse the embedded
	// ELF (errno from libbpf, e.g. EINVAL, ENOMEM).
	[[nodiscard]] static Result<Skeleton>
	open(const bpf_object_open_opts* opts = nullptr) noexcept
	{
		errno = 0;
		T* raw = T::open(opts);
		if (!raw)
			return fail_errno(errno ? errno : EINVAL, "opening BPF skeleton");
		return Skeleton(raw);
	}

	// Creates maps (reusing pinned ones when the object has a pin root), loads and verifies
	// the programs. Errors: the verifier refused a program (EACCES/EINVAL; libbpf prints the
	// verifier log, visible with LibbpfVerbosity::Verbose or on failure), a pinned map is
	// incompatible (EINVAL: another layout, see SPSEC_ABI_VERSION), no privilege (EPERM).
	[[nodiscard]] Result<void> load() noexcept
	{
		const int err = T::load(skel_);
		if (err)
			return fail_errno(-err, "loading BPF programs and maps");
		return {};
	}

	Skeleton(Skeleton&& o) noexcept : skel_(std::exchange(o.skel_, nullptr)) {}
	Skeleton& operator=(Skeleton&& o) noexcept
	{
		if (this != &o) {
			reset();
			skel_ = std::exchange(o.skel_, nullptr);
		}
		return *this;
	}
	Skeleton(const Skeleton&) = delete;
	Skeleton& operator=(const Skeleton&) = delete;
	~Skeleton() { reset(); }

	T* get() const noexcept { return skel_; }
	T* operator->() const noexcept { return skel_; }
	bpf_object* object() const noexcept { return skel_->obj; }

private:
	explicit Skeleton(T* s) noexcept : skel_(s) {}
	void reset() noexcept
	{
		// Destroying the skeleton closes our fds only: pinned maps and attached tc filters
		// keep the data plane alive.
		if (skel_)
			T::destroy(skel_);
		skel_ = nullptr;
	}

	T* skel_ = nullptr;
};

// Verifier and size figures of a loaded program (bpf_prog_info).
struct ProgStats {
	std::string name;
	std::uint32_t xlated_insns = 0;    // instructions after verifier rewrites
	std::uint32_t jited_bytes = 0;     // native code size
	std::uint32_t verified_insns = 0;  // "processed N insns" of the verifier (kernel >= 5.16)
};

// Errors: the program is not loaded (EBADF), the kernel refused bpf_obj_get_info_by_fd.
[[nodiscard]] Result<ProgStats> prog_stats(const bpf_program* prog);

}  // namespace spsec
