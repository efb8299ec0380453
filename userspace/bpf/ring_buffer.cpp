// SPDX-License-Identifier: Apache-2.0
#include "bpf/ring_buffer.h"

#include <cerrno>
#include <cstring>

namespace spsec {

int RingBuffer::on_sample(void* ctx, void* data, std::size_t size) noexcept
{
	auto* st = static_cast<State*>(ctx);
	if (size < sizeof(spsec_event)) {
		st->short_records++;
		return 0;
	}
	spsec_event ev;
	std::memcpy(&ev, data, sizeof ev);
	try {
		st->handler(ev);
	} catch (...) {
		// nothing may cross libbpf's C frames
		st->handler_failures++;
		return -ECANCELED;
	}
	return 0;
}

Result<RingBuffer> RingBuffer::open(bpf_map* map, Handler handler)
{
	auto st = std::make_unique<State>();
	st->handler = std::move(handler);
	const int fd = bpf_map__fd(map);
	if (fd < 0)
		return fail_errno(-fd, "opening event ring buffer: map not created");
	errno = 0;
	ring_buffer* rb = ring_buffer__new(fd, &RingBuffer::on_sample, st.get(), nullptr);
	if (!rb)
		return fail_errno(errno ? errno : EINVAL, "opening event ring buffer");
	return RingBuffer(std::move(st), std::unique_ptr<ring_buffer, Deleter>(rb));
}

Result<int> RingBuffer::poll(int timeout_ms)
{
	const int n = ring_buffer__poll(rb_.get(), timeout_ms);
	if (n == -EINTR)
		return 0;
	if (n < 0 && n != -ECANCELED)
		return fail_errno(-n, "polling event ring buffer");
	return n < 0 ? 0 : n;
}

Result<int> RingBuffer::consume()
{
	const int n = ring_buffer__consume(rb_.get());
	if (n < 0 && n != -ECANCELED)
		return fail_errno(-n, "reading event ring buffer");
	return n < 0 ? 0 : n;
}

int RingBuffer::epoll_fd() const noexcept
{
	return ring_buffer__epoll_fd(rb_.get());
}

}  // namespace spsec
