// SPDX-License-Identifier: Apache-2.0
#include "daemon/control_socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/json.h"

namespace spsec {

namespace {

constexpr std::size_t kMaxRequest = 4096;

std::string error_line(std::string_view msg)
{
	return json_line(Json{{"error", msg}});
}

}  // namespace

Result<ControlRequest> parse_control_request(std::string_view line) noexcept
{
	// A hostile peer gets a named error for malformed JSON, a wrong type or a missing member;
	// nothing it sends can throw past this point (parse_json and the json_* getters do not).
	if (!line.empty() && line.back() == '\r')
		line.remove_suffix(1);
	auto req = parse_json(line);
	if (!req)
		return tl::unexpected(req.error());
	auto cmd = json_string(*req, "cmd");
	if (!cmd)
		return fail("request must be an object with a string member \"cmd\"");
	return ControlRequest{std::string(*cmd), std::move(*req)};
}

Result<std::unique_ptr<ControlSocket>> ControlSocket::open(EventLoop& loop, const Logger& log,
                                                           Options options, StatusProvider status)
{
	auto addr = control_socket_address(options.path);
	if (!addr)
		return tl::unexpected(addr.error());
	const std::string path = options.path;  // a copy: options moves below

	// A socket file left by a dead daemon refuses connections and is replaced; one that
	// accepts belongs to a running daemon and is left alone.
	struct stat st {};
	if (::lstat(path.c_str(), &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return fail(cat("control socket ", path, " exists and is not a socket"));
		if (auto probe = control_connect(path, 100); probe)
			return fail(cat("control socket ", path,
			                " is served by a running process (another spsecd?)"));
		if (::unlink(path.c_str()) != 0)
			return fail_errno(errno, cat("removing stale control socket ", path));
	}

	std::unique_ptr<ControlSocket> cs(
	        new ControlSocket(loop, log, std::move(options), std::move(status)));
	cs->listen_fd_ = Fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
	if (!cs->listen_fd_.valid())
		return fail_errno(errno, "creating the control socket");
	if (::bind(cs->listen_fd_.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) !=
	    0)
		return fail_errno(errno, cat("binding control socket ", path));
	// bind() honours the umask (0077 under the unit); widen to the documented 0660 so the
	// spsec group can run spsecctl.
	if (::chmod(path.c_str(), 0660) != 0) {
		int e = errno;
		(void)::unlink(path.c_str());
		return fail_errno(e, cat("chmod 0660 of control socket ", path));
	}
	if (::listen(cs->listen_fd_.get(), 16) != 0) {
		int e = errno;
		(void)::unlink(path.c_str());
		return fail_errno(e, cat("listening on control socket ", path));
	}
	ControlSocket* self = cs.get();
	auto src = loop.watch(cs->listen_fd_.get(), EPOLLIN, "control-socket",
	                      [self](std::uint32_t) { self->on_accept(); });
	if (!src) {
		(void)::unlink(path.c_str());
		return tl::unexpected(src.error());
	}
	cs->listen_source_ = *src;
	log.info(cat("control socket listening on ", path));
	return cs;
}

ControlSocket::~ControlSocket()
{
	for (auto& [id, c] : clients_)
		loop_.unwatch(c.source);
	clients_.clear();
	if (listen_source_ != 0)
		loop_.unwatch(listen_source_);
	if (listen_fd_.valid())
		(void)::unlink(options_.path.c_str());
}

std::size_t ControlSocket::subscribers() const noexcept
{
	std::size_t n = 0;
	for (const auto& [id, c] : clients_)
		n += c.subscriber ? 1 : 0;
	return n;
}

void ControlSocket::on_accept()
{
	for (;;) {
		Fd fd(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
		if (!fd.valid()) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_.warning(cat("control socket: accept failed: ",
				                 std::strerror(errno)));
			return;
		}
		if (clients_.size() >= options_.max_clients) {
			std::string line = error_line("too many clients") + "\n";
			(void)::send(fd.get(), line.data(), line.size(),
			             MSG_NOSIGNAL | MSG_DONTWAIT);
			log_.warning(cat("control socket: refused a client (", clients_.size(),
			                 " connected)"));
			continue;
		}
		std::uint64_t id = next_client_++;
		auto src = loop_.watch(fd.get(), EPOLLIN, cat("control-client-", id),
		                       [this, id](std::uint32_t ev) { on_client(id, ev); });
		if (!src) {
			log_.warning(src.error().message());
			continue;
		}
		Client c;
		// Who connected, for commands that change something (only root or spsecd's own
		// uid may): the kernel's record of the peer, not anything the client says.
		ucred cred{};
		socklen_t len = sizeof cred;
		if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
			c.peer_uid = cred.uid;
		c.fd = std::move(fd);
		c.source = *src;
		clients_.emplace(id, std::move(c));
	}
}

void ControlSocket::on_client(std::uint64_t id, std::uint32_t events)
{
	auto it = clients_.find(id);
	if (it == clients_.end())
		return;
	Client& c = it->second;
	if (events & EPOLLOUT) {
		if (!flush(c)) {
			drop(id);
			return;
		}
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		char buf[1024];
		for (;;) {
			ssize_t r = ::recv(c.fd.get(), buf, sizeof buf, MSG_DONTWAIT);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0 && errno == EAGAIN)
				break;
			if (r <= 0) {  // EOF or error: the client is gone
				drop(id);
				return;
			}
			c.in.append(buf, static_cast<std::size_t>(r));
			std::size_t nl;
			while ((nl = c.in.find('\n')) != std::string::npos) {
				std::string line = c.in.substr(0, nl);
				c.in.erase(0, nl + 1);
				handle_line(c, line);
				if (!send_line(id, c, "")) {  // flush what handle_line queued
					drop(id);
					return;
				}
			}
			if (c.in.size() > kMaxRequest) {
				log_.warning("control socket: request longer than 4 KiB, client "
				             "dropped");
				drop(id);
				return;
			}
		}
	}
}

void ControlSocket::handle_line(Client& c, std::string_view line)
{
	if (line.empty() || line == "\r")
		return;
	auto req = parse_control_request(line);
	std::string reply;
	if (!req) {
		reply = error_line(req.error().context);
	} else if (req->cmd == "status") {
		reply = status_();
	} else if (req->cmd == "events") {
		c.subscriber = true;
		reply = R"({"subscribed":true})";
	} else if (auto r = options_.command ? options_.command(req->cmd, req->body, c.peer_uid)
	                                     : std::nullopt;
	           r) {
		reply = std::move(*r);
	} else {
		reply = error_line(cat("unknown cmd '", req->cmd,
		                       "' (expected status, events or commission)"));
	}
	reply.push_back('\n');
	c.out.append(reply);
}

bool ControlSocket::send_line(std::uint64_t id, Client& c, std::string_view line)
{
	(void)id;
	if (!line.empty()) {
		c.out.append(line);
		c.out.push_back('\n');
	}
	return flush(c);
}

bool ControlSocket::flush(Client& c)
{
	while (!c.out.empty()) {
		ssize_t w =
		        ::send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		if (w < 0)
			return false;  // EPIPE, ECONNRESET: the client is gone
		c.out.erase(0, static_cast<std::size_t>(w));
	}
	if (c.out.size() > options_.max_queued_bytes) {
		dropped_slow_++;
		log_.warning(cat("control socket: client not reading (", c.out.size(),
		                 " bytes queued), dropped"));
		return false;
	}
	bool want_out = !c.out.empty();
	if (want_out != c.want_out) {
		auto r = loop_.modify(c.source, want_out ? (EPOLLIN | EPOLLOUT) : EPOLLIN);
		if (!r)
			return false;
		c.want_out = want_out;
	}
	return true;
}

void ControlSocket::publish(std::string_view json_line)
{
	std::vector<std::uint64_t> gone;
	for (auto& [id, c] : clients_) {
		if (c.subscriber && !send_line(id, c, json_line))
			gone.push_back(id);
	}
	for (std::uint64_t id : gone)
		drop(id);
}

void ControlSocket::drop(std::uint64_t id)
{
	auto it = clients_.find(id);
	if (it == clients_.end())
		return;
	loop_.unwatch(it->second.source);
	clients_.erase(it);  // closes the fd
}

}  // namespace spsec
