// Keeps spsec_bpf non-empty until the loader and key material sources land.
namespace spsec::detail {
int spsec_bpf_placeholder()
{
	return 0;
}
}  // namespace spsec::detail
