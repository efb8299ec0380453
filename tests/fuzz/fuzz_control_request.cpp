// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: arbitrary bytes as one line a local client sends to spsecd's control socket.
// parse_control_request must never crash or throw; what it accepts has a "cmd" string and the
// commission getters read it without throwing; every reply spsecd would send (the error text, or
// the request rendered back as JSON and for humans) is valid JSON / one line per member.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/json.h"
#include "daemon/control_socket.h"
#include "fuzz_check.h"

using spsec::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
	const std::string_view line(reinterpret_cast<const char*>(data), size);
	auto req = spsec::parse_control_request(line);
	if (!req) {
		check(!req.error().context.empty());
		// The error reply: always one valid JSON line, whatever bytes the error echoes.
		const std::string reply =
		        spsec::json_line(spsec::Json{{"error", req.error().context}});
		check(reply.find('\n') == std::string::npos);
		check(spsec::parse_json(reply).has_value());
		return 0;
	}
	check(req->body.is_object());
	check(spsec::json_string(req->body, "cmd") == std::string_view(req->cmd));
	(void)spsec::json_u64(req->body, "window_s");
	(void)spsec::json_bool(req->body, "close");
	const std::string again = spsec::json_line(req->body);
	check(again.find('\n') == std::string::npos);
	auto back = spsec::parse_json(again);
	check(back.has_value() && back->is_object());
	(void)spsec::json_to_text(req->body);
	return 0;
}
