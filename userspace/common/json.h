// SPDX-License-Identifier: Apache-2.0
// JSON lines for the control socket, spsecd's status and events and spsecctl's output, on
// nlohmann-json (Debian: nlohmann-json3-dev).
//
// Json is insertion-ordered, so members come out in the order the code adds them (the shape
// docs/operations.md shows). nlohmann throws on bad input and on invalid UTF-8 when it writes;
// nothing here throws: parse_json() catches at the boundary and returns an Error, json_line()
// replaces bytes that are not valid UTF-8 by U+FFFD, so the output is always valid JSON whatever a
// config string contains, and the json_* getters return nullopt for an absent member or one of
// another type.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "spsec/result.h"

namespace spsec {

using Json = nlohmann::ordered_json;

// Deeper JSON is refused by parse_json(): a 4 KiB request has no business nesting further, and the
// human rendering (json_to_text) recurses.
inline constexpr int kJsonMaxDepth = 32;

// One value as one line: compact (no newlines), invalid UTF-8 replaced by U+FFFD.
[[nodiscard]] std::string json_line(const Json& v);

// Parses one JSON text; whitespace around it is allowed, anything else after it is an error.
// Errors: "JSON at byte N: <what was expected>", or nesting deeper than kJsonMaxDepth.
[[nodiscard]] Result<Json> parse_json(std::string_view text) noexcept;

// Member `name` of object `v`, or nullptr (also when `v` is not an object).
[[nodiscard]] const Json* json_member(const Json& v, std::string_view name) noexcept;
// Member `name` as a string / a non-negative integer / a bool; nullopt when absent or of another
// type (a number with a fraction or out of range is not an integer).
[[nodiscard]] std::optional<std::string_view> json_string(const Json& v,
                                                          std::string_view name) noexcept;
[[nodiscard]] std::optional<std::uint64_t> json_u64(const Json& v, std::string_view name) noexcept;
[[nodiscard]] std::optional<bool> json_bool(const Json& v, std::string_view name) noexcept;

// Renders a value as indented "name: value" lines for humans (spsecctl status):
//   state: Secure
//   peers:
//     -
//       id: 5
//       last_heartbeat_ms: 120
// Control characters in names and strings become '?', so a value cannot forge lines.
[[nodiscard]] std::string json_to_text(const Json& v);

}  // namespace spsec
