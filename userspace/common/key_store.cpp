// SPDX-License-Identifier: Apache-2.0
#include "common/key_store.h"

#include "common/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <vector>

#include "common/fd.h"
#include "common/logger.h"
#include "common/settings_file.h"
#include "core/hex.h"

namespace spsec {

namespace {

constexpr std::size_t kMaxFileBytes = 64 * 1024;
constexpr std::array<KeyRole, 3> kRoles = {KeyRole::Seed, KeyRole::Integrator,
                                           KeyRole::Provisioning};
enum Field { kKey = 0, kSalt = 1, kId = 2 };
constexpr std::array<std::string_view, 3> kFieldNames = {"key", "salt", "id"};

// Decodes exactly out.size() bytes of hex. The error names positions and lengths, never the
// characters, because the value is secret.
Result<void> decode_hex(std::string_view hex, std::span<std::uint8_t> out)
{
	if (hex.size() != out.size() * 2)
		return fail(cat("expected ", out.size() * 2, " hex digits, found ", hex.size(),
		                " characters"));
	for (std::size_t i = 0; i < out.size(); i++) {
		int hi = hex_value(hex[2 * i]);
		int lo = hex_value(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return fail(
			        cat("character ", 2 * i + (hi < 0 ? 1 : 2), " is not a hex digit"));
		out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
	}
	return {};
}

Result<std::uint32_t> parse_key_id(std::string_view v)
{
	std::uint64_t n = 0;
	if (v.size() > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
		if (v.size() > 10)
			return fail("Key ID has more than 8 hex digits");
		for (char c : v.substr(2)) {
			int d = hex_value(c);
			if (d < 0)
				return fail("Key ID is not a hex number");
			n = n << 4 | static_cast<std::uint64_t>(d);
		}
	} else {
		if (v.empty() || v.size() > 10)
			return fail("Key ID must be 0x followed by 8 hex digits, or decimal");
		for (char c : v) {
			if (c < '0' || c > '9')
				return fail("Key ID is not a decimal number (use 0x for hex)");
			n = n * 10 + static_cast<std::uint64_t>(c - '0');
		}
		if (n > 0xffffffffu)
			return fail("Key ID does not fit 32 bits");
	}
	if (n == 0)
		return fail("Key ID 0 is invalid");
	if (n == 0xffffffffu)
		return fail("Key ID 0xffffffff marks an erased key");
	return static_cast<std::uint32_t>(n);
}

void append_hex(std::string& out, std::span<const std::uint8_t> bytes)
{
	static constexpr char kDigits[] = "0123456789abcdef";
	for (std::uint8_t b : bytes) {
		out.push_back(kDigits[b >> 4]);
		out.push_back(kDigits[b & 15]);
	}
}

// A heap buffer that is wiped before it is freed: holds the file text (hex keys).
struct WipedBuffer {
	std::vector<char> bytes;
	~WipedBuffer() { secure_wipe(bytes.data(), bytes.size()); }
};

}  // namespace

std::string_view key_role_name(KeyRole role) noexcept
{
	switch (role) {
	case KeyRole::Seed:
		return "seed";
	case KeyRole::Integrator:
		return "integrator";
	case KeyRole::Provisioning:
		return "provisioning";
	}
	return "?";
}

Result<KeyStore> KeyStore::empty()
{
	auto box = LockedBox<Slots>::create();
	if (!box)
		return tl::unexpected(box.error());
	return KeyStore(std::move(*box));
}

Result<KeyStore> KeyStore::parse(std::string_view text, std::string_view origin)
{
	auto store = empty();
	if (!store)
		return store;
	Slots& slots = *store->box_;
	std::array<std::array<bool, 3>, 3> have{};

	auto setting = [&](std::string_view name, std::string_view value) -> Result<void> {
		// The unknown name is not echoed: a line like "<64 hex digits> =" would put a key
		// into the log.
		std::size_t dot = name.find('.');
		std::optional<std::size_t> role_idx, field_idx;
		if (dot != std::string_view::npos) {
			for (std::size_t r = 0; r < kRoles.size(); r++)
				if (name.substr(0, dot) == key_role_name(kRoles[r]))
					role_idx = r;
			for (std::size_t f = 0; f < kFieldNames.size(); f++)
				if (name.substr(dot + 1) == kFieldNames[f])
					field_idx = f;
		}
		if (!role_idx || !field_idx)
			return fail("unknown name (expected format, or seed/integrator/"
			            "provisioning followed by .key, .salt or .id)");
		std::string field_name =
		        cat(key_role_name(kRoles[*role_idx]), ".", kFieldNames[*field_idx]);
		if (have[*role_idx][*field_idx])
			return fail(cat(field_name, " given twice"));
		have[*role_idx][*field_idx] = true;

		auto& entry = slots.entries[*role_idx];
		if (!entry)
			entry.emplace();
		Result<void> r;
		switch (*field_idx) {
		case kKey:
			r = decode_hex(value, entry->key.expose_mut());
			break;
		case kSalt:
			r = decode_hex(value, entry->salt);
			break;
		default:
			if (auto id = parse_key_id(value); id)
				entry->id = *id;
			else
				r = tl::unexpected(id.error());
		}
		if (!r)
			return fail(cat(field_name, ": ", r.error().context));
		return {};
	};
	if (auto r = parse_settings(text, origin, setting); !r)
		return tl::unexpected(r.error());
	for (std::size_t r = 0; r < kRoles.size(); r++) {
		const auto& h = have[r];
		if (!h[kKey] && !h[kSalt] && !h[kId])
			continue;
		for (std::size_t f = 0; f < 3; f++)
			if (!h[f])
				return fail(cat(origin, ": ", key_role_name(kRoles[r]), ".",
				                kFieldNames[f],
				                " missing (a key needs key, salt and id)"));
	}
	return store;
}

Result<KeyStore> KeyStore::load(const std::string& path, uid_t owner)
{
	std::string where = cat("key store ", path);
	Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY));
	if (!fd.valid()) {
		if (errno == ELOOP)
			return fail(cat(where, ": is a symbolic link (refused: point the config at "
			                       "the file itself)"));
		return fail_errno(errno, cat("opening ", where));
	}
	struct stat st {};
	if (::fstat(fd.get(), &st) != 0)
		return fail_errno(errno, cat("checking ", where));
	if (!S_ISREG(st.st_mode))
		return fail(cat(where, ": not a regular file"));
	if (st.st_uid != owner)
		return fail(cat(where, ": owned by uid ", st.st_uid, ", expected uid ", owner,
		                " (the uid spsecd runs as): chown it"));
	if ((st.st_mode & 077) != 0) {
		char mode[8];
		std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777u);
		return fail(cat(where, ": mode ", mode,
		                " gives group/other access to keys; refusing to use it (chmod 600 ",
		                path, ")"));
	}
	if (st.st_size > static_cast<off_t>(kMaxFileBytes))
		return fail(cat(where, ": larger than ", kMaxFileBytes, " bytes"));

	WipedBuffer buf;
	buf.bytes.resize(static_cast<std::size_t>(st.st_size) + 1);
	std::size_t got = 0;
	for (;;) {
		ssize_t r = ::read(fd.get(), buf.bytes.data() + got, buf.bytes.size() - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return fail_errno(errno, cat("reading ", where));
		if (r == 0)
			break;
		got += static_cast<std::size_t>(r);
		if (got == buf.bytes.size())
			return fail(cat(where, ": changed size while being read"));
	}
	return parse(std::string_view(buf.bytes.data(), got), where);
}

std::string KeyStore::serialize() const
{
	std::string out;
	// Reserved up front so the string never reallocates and leaves unwiped hex behind.
	out.reserve(1024);
	out.append("# spsec key store -- owner-only (chmod 600), never commit, never print\n"
	           "format = 1\n");
	for (std::size_t r = 0; r < kRoles.size(); r++) {
		const auto& e = box_->entries[r];
		if (!e)
			continue;
		std::string_view n = key_role_name(kRoles[r]);
		out.append(n).append(".key = ");
		append_hex(out, e->key.expose());
		out.append("\n").append(n).append(".salt = ");
		append_hex(out, e->salt);
		out.append("\n").append(n).append(".id = ").append(hex32(e->id)).append("\n");
	}
	return out;
}

Result<void> KeyStore::save(const std::string& path) const
{
	std::string text = serialize();
	struct Wipe {
		std::string& s;
		~Wipe() { secure_wipe(s.data(), s.size()); }
	} wipe{text};
	if (auto r = write_file_atomic(path, text, 0600); !r)
		return tl::unexpected(r.error().with_context(cat("saving key store ", path)));
	return {};
}

const KeyEntry* KeyStore::get(KeyRole role) const noexcept
{
	const auto& e = box_->entries[static_cast<std::size_t>(role)];
	return e ? &*e : nullptr;
}

Result<void> KeyStore::set(KeyRole role, KeyEntry entry)
{
	if (entry.id == 0 || entry.id == 0xffffffffu)
		return fail(cat(key_role_name(role), " Key ID ", hex32(entry.id),
		                " is reserved (0 invalid, 0xffffffff erased)"));
	box_->entries[static_cast<std::size_t>(role)] = std::move(entry);
	return {};
}

void KeyStore::erase(KeyRole role) noexcept
{
	box_->entries[static_cast<std::size_t>(role)].reset();
}

bool same_key(const KeyEntry* a, const KeyEntry* b) noexcept
{
	if (a == nullptr || b == nullptr)
		return a == b;
	return a->id == b->id && a->salt == b->salt && ct_equal(a->key.expose(), b->key.expose());
}

}  // namespace spsec
