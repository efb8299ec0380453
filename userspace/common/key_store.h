// SPDX-License-Identifier: Apache-2.0
// The key store: the node's long-term SPsec keys (spec §3) in one owner-only file.
//
// File format (format 1), UTF-8 text, one `name = value` per line, '#' starts a comment line,
// blank lines ignored, names case-sensitive, each name at most once:
//
//   # spsec key store -- owner-only (chmod 600), never commit, never print
//   format = 1
//   seed.key = 000102...1f          64 hex digits: the 32-byte Seed Key (register 23h)
//   seed.salt = 0001020304050607    16 hex digits: its 8-byte pre-shared salt (33h)
//   seed.id = 0x00000001            its Key ID (43h): 0x + 8 hex digits, or decimal
//   integrator.key / .salt / .id    optional, the Integrator Key (22h/32h/42h)
//   provisioning.key / .salt / .id  optional, the Provisioning Key (21h/31h/41h)
//
// A key is present only with all three of key, salt and id. Key ID 0 (invalid) and 0xffffffff
// (erased) are refused. Errors name the file, the line and the field, never the value: a typo in
// a key line must not put the rest of the key into a log.
//
// load() refuses a file that is not a regular file, not owned by the expected uid, or whose mode
// has any group/other bit set, and says which and how to fix it. save() replaces the file
// atomically: a temporary file (0600) in the same directory is written, fsync()ed and renamed over
// the old one, then the directory is fsync()ed, so a crash leaves either the old or the new file,
// never a mix. Keys are kept in a LockedBox (mlocked, excluded from core dumps).
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/locked_box.h"
#include "core/secret.h"
#include "spsec/result.h"

namespace spsec {

enum class KeyRole { Seed, Integrator, Provisioning };

// "seed", "integrator", "provisioning": the prefixes used in the file.
[[nodiscard]] std::string_view key_role_name(KeyRole role) noexcept;

struct KeyEntry {
	Key32 key;
	std::array<std::uint8_t, 8> salt{};  // the key's pre-shared salt
	std::uint32_t id = 0;                // Key ID, never 0 or 0xffffffff
};

// Both absent, or the same key, salt and ID (the key compared in constant time).
[[nodiscard]] bool same_key(const KeyEntry* a, const KeyEntry* b) noexcept;

class KeyStore {
public:
	// An empty store (no keys). Errors: mapping locked memory failed.
	[[nodiscard]] static Result<KeyStore> empty();
	// Parses the text of a key store. `origin` (usually the path) prefixes every error.
	// Errors: syntax, unknown or duplicate name, bad hex, incomplete key, bad Key ID, missing
	// or unsupported format line.
	[[nodiscard]] static Result<KeyStore> parse(std::string_view text, std::string_view origin);
	// Reads and parses `path`, after checking it is a regular file owned by `owner` with no
	// group/other permission bits. Errors: as parse, plus open/permission/ownership failures.
	[[nodiscard]] static Result<KeyStore> load(const std::string& path, uid_t owner);

	// Atomically replaces `path` with this store (mode 0600). Errors: any failed syscall; the
	// old file is then untouched and the temporary file removed.
	[[nodiscard]] Result<void> save(const std::string& path) const;

	// The key of `role`, or nullptr when the store has none.
	[[nodiscard]] const KeyEntry* get(KeyRole role) const noexcept;
	// Installs (replaces) the key of `role`. Errors: Key ID 0 or 0xffffffff.
	[[nodiscard]] Result<void> set(KeyRole role, KeyEntry entry);
	void erase(KeyRole role) noexcept;

	// True when the key memory is mlock()ed.
	[[nodiscard]] bool memory_locked() const noexcept { return box_.locked(); }

private:
	struct Slots {
		std::array<std::optional<KeyEntry>, 3> entries;
	};
	explicit KeyStore(LockedBox<Slots> box) noexcept : box_(std::move(box)) {}
	[[nodiscard]] std::string serialize() const;

	LockedBox<Slots> box_;
};

}  // namespace spsec
