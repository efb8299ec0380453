// SPDX-License-Identifier: Apache-2.0
// LockedBox<T>: one T in its own anonymous mapping that is mlock()ed (never swapped out) and
// excluded from core dumps (MADV_DONTDUMP). On destruction T is destroyed, the whole mapping is
// wiped, unlocked and unmapped. Used for the key store so keys never reach swap or a core file.
//
// mlock can fail without CAP_IPC_LOCK when RLIMIT_MEMLOCK is exhausted; that is not fatal (the
// service also sets LimitCORE=0 and PR_SET_DUMPABLE=0) and is reported through locked().
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <new>
#include <utility>

#include "core/secret.h"
#include "spsec/result.h"

namespace spsec {

template <class T> class LockedBox {
public:
	// Errors: mmap failed (ENOMEM).
	[[nodiscard]] static Result<LockedBox> create()
	{
		long page = ::sysconf(_SC_PAGESIZE);
		std::size_t ps = page > 0 ? static_cast<std::size_t>(page) : 4096;
		std::size_t len = (sizeof(T) + ps - 1) / ps * ps;
		void* mem = ::mmap(nullptr, len, PROT_READ | PROT_WRITE,
		                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED)
			return fail_errno(errno, "mapping locked memory for keys");
		(void)::madvise(mem, len, MADV_DONTDUMP);
		bool locked = ::mlock(mem, len) == 0;
		T* obj = new (mem) T();
		return LockedBox(obj, len, locked);
	}

	LockedBox(LockedBox&& o) noexcept
	    : obj_(std::exchange(o.obj_, nullptr)), len_(o.len_), locked_(o.locked_)
	{
	}
	LockedBox& operator=(LockedBox&& o) noexcept
	{
		if (this != &o) {
			release();
			obj_ = std::exchange(o.obj_, nullptr);
			len_ = o.len_;
			locked_ = o.locked_;
		}
		return *this;
	}
	LockedBox(const LockedBox&) = delete;
	LockedBox& operator=(const LockedBox&) = delete;
	~LockedBox() { release(); }

	T& operator*() noexcept { return *obj_; }
	const T& operator*() const noexcept { return *obj_; }
	T* operator->() noexcept { return obj_; }
	const T* operator->() const noexcept { return obj_; }
	// True when the pages are mlock()ed.
	[[nodiscard]] bool locked() const noexcept { return locked_; }

private:
	LockedBox(T* obj, std::size_t len, bool locked) noexcept
	    : obj_(obj), len_(len), locked_(locked)
	{
	}
	void release() noexcept
	{
		if (obj_ == nullptr)
			return;
		obj_->~T();
		secure_wipe(obj_, len_);
		if (locked_)
			(void)::munlock(obj_, len_);
		(void)::munmap(obj_, len_);
		obj_ = nullptr;
	}

	T* obj_;
	std::size_t len_;
	bool locked_;
};

}  // namespace spsec
