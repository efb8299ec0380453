// SPDX-License-Identifier: Apache-2.0
// The internal control plane towards local tools: a Unix stream socket speaking JSON lines.
//
// Protocol (one JSON object per line, '\n' terminated, both ways):
//   -> {"cmd":"status"}   <- one status object (see Daemon::status_json), then the connection
//                            stays open for more requests
//   -> {"cmd":"events"}   <- {"subscribed":true}, then every event as one line until either
//                            side closes
//   -> {"cmd":"commission","window_s":600} / {"cmd":"commission","close":true}
//                         <- handled by Options::command (spsecd: the commissioning window,
//                            root or spsecd's own uid only, by SO_PEERCRED)
//   -> {"cmd":"senders"}  <- the sender rules with their resolution and counters
//                            (Daemon::senders_json), any peer
//   anything else         <- {"error":"..."} naming the problem
// Requests longer than 4 KiB are refused and the client dropped.
//
// Everything is non-blocking and runs in the daemon's event loop. A client whose unsent output
// exceeds `max_queued_bytes` (a subscriber that stopped reading) is dropped with a warning rather
// than ever blocking the loop. The socket file is created with mode 0660 (owner and group may
// connect), a stale file from a dead daemon is replaced, a live daemon's socket is not.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/control_client.h"
#include "common/fd.h"
#include "common/json.h"
#include "common/logger.h"
#include "daemon/event_loop.h"
#include "spsec/result.h"

namespace spsec {

// One request line as the socket reads it: its "cmd" and the whole object.
struct ControlRequest {
	std::string cmd;
	Json body;
};
// Parses one request line (without its '\n'; a trailing '\r' is allowed). Never throws: a
// hostile peer only ever gets the error's text back. Errors: not JSON ("JSON at byte N: ..."),
// nested too deeply, not an object with a string member "cmd".
[[nodiscard]] Result<ControlRequest> parse_control_request(std::string_view line) noexcept;

class ControlSocket {
public:
	struct Options {
		std::string path;  // socket file, e.g. /run/spsec/can0.sock
		std::size_t max_queued_bytes = 256 * 1024;  // per client, before it is dropped
		std::size_t max_clients = 32;
		// Other commands: (cmd, the whole request, the peer's uid from SO_PEERCRED) -> one
		// reply line (no newline), or nullopt for an unknown cmd.
		std::function<std::optional<std::string>(std::string_view, const Json&, uid_t)>
		        command;
	};
	// Returns the status object as one line of JSON (no trailing newline).
	using StatusProvider = std::function<std::string()>;

	// Creates, binds and listens; registers with `loop`. Errors: path too long for sun_path,
	// another process is serving the path, the path is not a socket, bind/listen/chmod failed.
	[[nodiscard]] static Result<std::unique_ptr<ControlSocket>>
	open(EventLoop& loop, const Logger& log, Options options, StatusProvider status);

	// Unregisters, closes every client and removes the socket file.
	~ControlSocket();
	ControlSocket(const ControlSocket&) = delete;
	ControlSocket& operator=(const ControlSocket&) = delete;

	// Sends `json_line` (one JSON value, no newline) to every subscriber.
	void publish(std::string_view json_line);

	[[nodiscard]] std::size_t clients() const noexcept { return clients_.size(); }
	[[nodiscard]] std::size_t subscribers() const noexcept;
	// Subscribers dropped so far because they did not keep up.
	[[nodiscard]] std::uint64_t dropped_slow() const noexcept { return dropped_slow_; }

private:
	struct Client {
		Fd fd;
		EventLoop::SourceId source = 0;
		std::string in;
		std::string out;  // queued, not yet accepted by the kernel
		bool subscriber = false;
		bool want_out = false;
		uid_t peer_uid = static_cast<uid_t>(-1);  // SO_PEERCRED; -1: unknown
	};

	ControlSocket(EventLoop& loop, const Logger& log, Options options, StatusProvider status)
	    : loop_(loop), log_(log), options_(std::move(options)), status_(std::move(status))
	{
	}
	void on_accept();
	void on_client(std::uint64_t id, std::uint32_t events);
	void handle_line(Client& c, std::string_view line);
	// Queues and tries to send; false when the client had to be dropped.
	bool send_line(std::uint64_t id, Client& c, std::string_view line);
	bool flush(Client& c);
	void drop(std::uint64_t id);

	EventLoop& loop_;
	const Logger& log_;
	Options options_;
	StatusProvider status_;
	Fd listen_fd_;
	EventLoop::SourceId listen_source_ = 0;
	std::unordered_map<std::uint64_t, Client> clients_;
	std::uint64_t next_client_ = 1;
	std::uint64_t dropped_slow_ = 0;
};

}  // namespace spsec
