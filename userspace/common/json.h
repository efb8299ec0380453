// SPDX-License-Identifier: Apache-2.0
// A tiny JSON writer and reader for the control socket's JSON lines (no external JSON library).
//
// JsonWriter emits compact JSON (no newlines, so one value is one line). Strings are escaped per
// RFC 8259: '"', '\\' and control characters are escaped, and bytes that are not valid UTF-8 are
// replaced by U+FFFD, so the output is always valid JSON whatever a config string contains.
//
// parse_json() reads one JSON text (RFC 8259) with a nesting limit of 32; numbers keep their
// text so 64-bit counters survive unrounded (as_u64()).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "spsec/result.h"

namespace spsec {

// Appends `s` to `out` as a JSON string literal, quotes included.
void json_append_string(std::string& out, std::string_view s);

class JsonWriter {
public:
	JsonWriter& begin_object();
	JsonWriter& end_object();
	JsonWriter& begin_array();
	JsonWriter& end_array();
	// The next value's name; only inside an object.
	JsonWriter& key(std::string_view name);
	JsonWriter& value(std::string_view s);
	JsonWriter& value(const char* s) { return value(std::string_view(s)); }
	JsonWriter& value(bool b);
	JsonWriter& value(std::int64_t n);
	JsonWriter& value(std::uint64_t n);
	JsonWriter& value(std::uint32_t n) { return value(static_cast<std::uint64_t>(n)); }
	JsonWriter& value(int n) { return value(static_cast<std::int64_t>(n)); }
	JsonWriter& null();

	// The text written so far (complete once every begin_* has its end_*).
	[[nodiscard]] const std::string& str() const noexcept { return out_; }
	[[nodiscard]] std::string take() noexcept { return std::move(out_); }

private:
	void separator();
	std::string out_;
	std::vector<bool> first_;  // per open container: no element written yet
	bool after_key_ = false;
};

class JsonValue {
public:
	enum class Type { Null, Bool, Number, String, Array, Object };

	[[nodiscard]] Type type() const noexcept { return type_; }
	[[nodiscard]] bool is_object() const noexcept { return type_ == Type::Object; }
	// The member `name` of an object, or nullptr.
	[[nodiscard]] const JsonValue* find(std::string_view name) const noexcept;
	// The string value, or nullopt for non-strings.
	[[nodiscard]] std::optional<std::string_view> as_string() const noexcept;
	// A non-negative integer number, or nullopt.
	[[nodiscard]] std::optional<std::uint64_t> as_u64() const noexcept;
	[[nodiscard]] std::optional<bool> as_bool() const noexcept;
	// Number text as written, "true"/"false"/"null", or the decoded string.
	[[nodiscard]] const std::string& text() const noexcept { return text_; }
	[[nodiscard]] const std::vector<JsonValue>& items() const noexcept { return items_; }
	[[nodiscard]] const std::vector<std::pair<std::string, JsonValue>>& members() const noexcept
	{
		return members_;
	}

private:
	friend class JsonParser;
	Type type_ = Type::Null;
	std::string text_;
	std::vector<JsonValue> items_;
	std::vector<std::pair<std::string, JsonValue>> members_;
};

// Parses one JSON text; trailing whitespace is allowed, anything else after it is an error.
// Errors name the byte offset and what was expected.
[[nodiscard]] Result<JsonValue> parse_json(std::string_view text);

// Renders a value as indented "name: value" lines for humans (spsecctl status):
//   state: Secure
//   peers:
//     - id: 5
//       last_heartbeat_ms: 120
[[nodiscard]] std::string json_to_text(const JsonValue& v);

}  // namespace spsec
