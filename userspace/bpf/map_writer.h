// SPDX-License-Identifier: Apache-2.0
// Typed access to one BPF map. Every call passes sizeof the key and value to libbpf's
// bpf_map__*_elem(), which checks them against the map's BTF definition, so a key or value of
// the wrong type is an EINVAL with the map named, never a silent misread.
#pragma once

#include <cerrno>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "spsec/result.h"

namespace spsec {

class MapWriter {
public:
	// `map` is borrowed; it must outlive the writer.
	explicit MapWriter(bpf_map* map) noexcept : map_(map) {}

	[[nodiscard]] const char* name() const noexcept { return bpf_map__name(map_); }
	[[nodiscard]] bpf_map* map() const noexcept { return map_; }

	// Inserts or replaces (flags BPF_ANY, BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK). Errors: size
	// mismatch (EINVAL), NOEXIST on an existing key (EEXIST), map full (E2BIG), no such
	// key with BPF_EXIST (ENOENT), map not created yet (EBADF).
	template <class K, class V>
	[[nodiscard]] Result<void> put(const K& key, const V& value,
	                               std::uint64_t flags = BPF_ANY) const
	{
		static_assert(std::is_trivially_copyable_v<K> && std::is_trivially_copyable_v<V>);
		if (bpf_map__update_elem(map_, &key, sizeof key, &value, sizeof value, flags))
			return fail_errno(errno, std::string("updating map ") + name());
		return {};
	}

	// Reads one value (flags 0 or BPF_F_LOCK). Errors: no such key (ENOENT), size mismatch.
	template <class V, class K>
	[[nodiscard]] Result<V> get(const K& key, std::uint64_t flags = 0) const
	{
		static_assert(std::is_trivially_copyable_v<K> && std::is_trivially_copyable_v<V>);
		V value{};
		if (bpf_map__lookup_elem(map_, &key, sizeof key, &value, sizeof value, flags))
			return fail_errno(errno, std::string("reading map ") + name());
		return value;
	}

	// Reads one value into `out` (for values too large for the stack). Errors: as get(); `out`
	// is then unspecified.
	template <class K, class V>
	[[nodiscard]] Result<void> get_into(const K& key, V& out, std::uint64_t flags = 0) const
	{
		static_assert(std::is_trivially_copyable_v<K> && std::is_trivially_copyable_v<V>);
		if (bpf_map__lookup_elem(map_, &key, sizeof key, &out, sizeof out, flags))
			return fail_errno(errno, std::string("reading map ") + name());
		return {};
	}

	// Reads the value of every possible CPU of a per-CPU map. V must be a multiple of 8 bytes
	// (the kernel rounds per-CPU values up to 8). Errors: as get().
	template <class V, class K>
	[[nodiscard]] Result<std::vector<V>> get_percpu(const K& key) const
	{
		static_assert(std::is_trivially_copyable_v<K> && std::is_trivially_copyable_v<V>);
		static_assert(sizeof(V) % 8 == 0, "per-CPU values are padded to 8 bytes");
		const int ncpu = libbpf_num_possible_cpus();
		if (ncpu <= 0)
			return fail_errno(-ncpu, "counting possible CPUs");
		std::vector<V> values(static_cast<std::size_t>(ncpu));
		if (bpf_map__lookup_elem(map_, &key, sizeof key, values.data(),
		                         sizeof(V) * values.size(), 0))
			return fail_errno(errno, std::string("reading per-CPU map ") + name());
		return values;
	}

	// Writes one value of a per-CPU map: `value` on every possible CPU. Errors: as put().
	template <class K, class V>
	[[nodiscard]] Result<void> put_percpu(const K& key, const V& value) const
	{
		static_assert(std::is_trivially_copyable_v<K> && std::is_trivially_copyable_v<V>);
		static_assert(sizeof(V) % 8 == 0, "per-CPU values are padded to 8 bytes");
		const int ncpu = libbpf_num_possible_cpus();
		if (ncpu <= 0)
			return fail_errno(-ncpu, "counting possible CPUs");
		std::vector<V> values(static_cast<std::size_t>(ncpu), value);
		if (bpf_map__update_elem(map_, &key, sizeof key, values.data(),
		                         sizeof(V) * values.size(), BPF_ANY))
			return fail_errno(errno, std::string("updating per-CPU map ") + name());
		return {};
	}

	// Deletes one key. Errors: no such key (ENOENT), size mismatch.
	template <class K> [[nodiscard]] Result<void> erase(const K& key) const
	{
		if (bpf_map__delete_elem(map_, &key, sizeof key, 0))
			return fail_errno(errno, std::string("deleting from map ") + name());
		return {};
	}

	// Every key currently in a hash map. Errors: size mismatch, map not created.
	template <class K> [[nodiscard]] Result<std::vector<K>> keys() const
	{
		std::vector<K> out;
		K cur{};
		K next{};
		const K* prev = nullptr;
		for (;;) {
			if (bpf_map__get_next_key(map_, prev, &next, sizeof next)) {
				if (errno == ENOENT)
					break;
				return fail_errno(errno,
				                  std::string("listing keys of map ") + name());
			}
			out.push_back(next);
			cur = next;
			prev = &cur;
		}
		return out;
	}

private:
	bpf_map* map_;
};

}  // namespace spsec
